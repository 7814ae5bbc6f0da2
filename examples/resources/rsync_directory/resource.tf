# Push the contents of ./site (trailing slash) into /var/www/site on web1,
# deleting what the site no longer has, except uploads made on the server.
resource "rsync_directory" "site" {
  source      = "${path.module}/site/"
  destination = "deploy@web1.example.com:/var/www/site/"

  delete     = true
  exclude    = [".git/", "*.tmp", "/node_modules/"]
  protect    = ["/uploads/"]
  max_delete = 100 # fail rather than delete more than 100 paths in one apply
  compress   = true
}

# Without the trailing slash the directory itself is pushed:
# it lands as /srv/releases/assets. Destroying this resource removes it.
resource "rsync_directory" "assets" {
  source      = "${path.module}/assets"
  destination = "web1.example.com:/srv/releases/"
  on_destroy  = "delete"
}

# What the next apply will change, as the plan shows it.
output "site_pending" {
  value = rsync_directory.site.pending
}
