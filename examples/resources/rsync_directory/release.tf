# Atomic releases. Each apply that changes ./build builds
# /srv/app/releases/<id>/ (unchanged files hard-linked from the current
# release, so only changed files cross the wire), then points
# /srv/app/current at it in one rename, then keeps the newest 3.
# The web server serves the link, e.g. nginx:
#   root /srv/app/current/public;
# or Apache: DocumentRoot /srv/app/current/public (with FollowSymLinks).
resource "rsync_directory" "app" {
  source      = "${path.module}/build/"
  destination = "deploy@web1.example.com:/srv/app/"
  mkpath      = true # create /srv/app's parents on a fresh host

  release = {
    keep   = 3
    shared = ["public/uploads/", ".env"] # live in /srv/app/shared/, linked into every release
  }
}

output "live_release" {
  value = rsync_directory.app.current_release
}
