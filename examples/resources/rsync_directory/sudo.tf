# Write where the SSH user cannot: the remote rsync runs under sudo
# (the user needs passwordless sudo for rsync, e.g. in /etc/sudoers.d:
#   deploy ALL=(root) NOPASSWD: /usr/bin/rsync, /usr/bin/rm
# rm is needed only for on_destroy = "delete", which runs with the same
# prefix; mkpath and release run their commands as sudo -n sh -c '...',
# and need /bin/sh there too).
provider "rsync" {
  alias            = "root"
  user             = "deploy"
  private_key_file = "~/.ssh/id_ed25519"
  rsync_path       = "sudo -n rsync"
}

resource "rsync_directory" "nginx_conf" {
  provider    = rsync.root
  source      = "${path.module}/nginx/"
  destination = "web1.example.com:/etc/nginx/conf.d/"
  checksum    = true # config files are small: compare by content
}
