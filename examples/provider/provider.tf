terraform {
  required_providers {
    rsync = {
      source = "rsyncprovider/rsync"
    }
  }
}

# Every setting is optional and is a default for every rsync_directory.
provider "rsync" {
  user             = "deploy"
  port             = 22
  private_key_file = "~/.ssh/id_ed25519"
  known_hosts_file = "~/.ssh/known_hosts" # the default; or pin the key with host_key
  timeout          = "30s"
  rsync_path       = "rsync" # e.g. "sudo rsync" to write where the SSH user cannot
}
