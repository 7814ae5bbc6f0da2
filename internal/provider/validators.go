package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// parseTimeout parses a timeout setting such as "30s" or "2m". It must be a
// positive Go duration.
func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; write a number with a unit, such as \"30s\" or \"2m\"", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not positive; write a duration greater than zero, such as \"30s\"", s)
	}
	return d, nil
}

// durationValidator checks that a string attribute is a positive duration.
type durationValidator struct{}

func (durationValidator) Description(context.Context) string {
	return `must be a positive duration such as "30s" or "2m"`
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (durationValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseTimeout(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid timeout",
			fmt.Sprintf("%s: %s.", req.Path, err))
	}
}

// remoteValidator checks that a string attribute is `[user@]host:path`.
type remoteValidator struct{}

func (remoteValidator) Description(context.Context) string {
	return "must be a remote location of the form [user@]host:path"
}

func (v remoteValidator) MarkdownDescription(ctx context.Context) string {
	return "must be a remote location of the form `[user@]host:path`"
}

func (remoteValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseRemote(req.ConfigValue.ValueString()); err != nil {
		summary, detail := remoteDiagnostic(req.Path.String(), err)
		resp.Diagnostics.AddAttributeError(req.Path, summary, detail)
	}
}

// remoteDiagnostic words a parseRemote error as a diagnostic: what is wrong
// and what to write instead.
func remoteDiagnostic(attr string, err error) (summary, detail string) {
	const howto = `Write it as [user@]host:path, for example "deploy@web1.example.com:/var/www/site/" ` +
		`(an IPv6 address goes in brackets: "[2001:db8::1]:/var/www/site/"; an empty path after ":" means the login directory).`
	var re *remoteError
	if errors.As(err, &re) && re.NoHost {
		return "Destination has no host",
			fmt.Sprintf("%s %s. %s Copying between two local directories is not supported.", attr, err, howto)
	}
	return "Invalid destination", fmt.Sprintf("%s %s. %s", attr, err, howto)
}
