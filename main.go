// Command terraform-provider-rsync is the Terraform provider for rsync: it
// pushes local directory trees to remote hosts over SSH, speaking the rsync
// protocol itself.
package main

import (
	"context"
	"flag"
	"log"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/provider"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

// stopProfile ends the profiles a profiling build started (main_pprof.go);
// it does nothing otherwise.
var stopProfile = func() {}

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	if !debug {
		quietUnlessLogged()
	}

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/rsyncprovider/rsync",
		Debug:   debug,
	})
	stopProfile()
	if err != nil {
		log.Fatal(err)
	}
}

// quietUnlessLogged turns the plugin SDK's and this provider's logs off
// when Terraform discards them: unless TF_LOG or TF_LOG_PROVIDER is set,
// Terraform sets its provider logger to Off, yet terraform-plugin-log's
// loggers default to TRACE, so every RPC encoded dozens of framework trace
// lines as JSON onto stderr for Terraform to parse and drop (profiled in a
// 10-resource apply: ~20% of the provider's CPU, and Terraform's parsing on
// top; hashicorp/terraform-plugin-framework#1269). A level the user set
// for any of them is left alone; with -debug the provider's stderr is the
// user's console, and nothing is changed. (TOFU_LOG*: OpenTofu's names.)
func quietUnlessLogged() {
	for _, v := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TOFU_LOG", "TOFU_LOG_PROVIDER"} {
		if os.Getenv(v) != "" {
			return
		}
	}
	for _, v := range []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_RSYNC", "TF_LOG_PROVIDER_RSYNC_ENGINE"} {
		if _, set := os.LookupEnv(v); !set {
			_ = os.Setenv(v, "off")
		}
	}
}
