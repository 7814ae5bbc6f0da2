# The configuration `make demo` applies: push the sample web root in ./site
# to a host over SSH. The demo passes the connection settings of a throwaway
# local sshd as variables; point them at a real host to use it for real.

terraform {
  required_providers {
    rsync = {
      source = "rsyncprovider/rsync"
    }
  }
}

variable "destination" {
  type        = string
  description = "Where the site goes, as [user@]host:path, e.g. deploy@web1.example.com:/var/www/site/."
}

variable "port" {
  type        = number
  default     = 22
  description = "SSH port."
}

variable "private_key_file" {
  type        = string
  default     = "~/.ssh/id_ed25519"
  description = "Private key to log in with."
}

variable "known_hosts_file" {
  type        = string
  default     = "~/.ssh/known_hosts"
  description = "known_hosts file holding the host's key; unknown hosts are refused."
}

provider "rsync" {
  port             = var.port
  private_key_file = var.private_key_file
  known_hosts_file = var.known_hosts_file
}

resource "rsync_directory" "site" {
  # Trailing slash: push the contents of site/ into the destination directory.
  source      = "${path.module}/site/"
  destination = var.destination
}

output "destination" {
  value = rsync_directory.site.id
}
