# Push the contents of ./site (trailing slash) into /var/www/site on web1.
resource "rsync_directory" "site" {
  source      = "${path.module}/site/"
  destination = "deploy@web1.example.com:/var/www/site/"
}

# Without the trailing slash the directory itself is pushed:
# it lands as /srv/releases/assets.
resource "rsync_directory" "assets" {
  source      = "${path.module}/assets"
  destination = "web1.example.com:/srv/releases/"
}
