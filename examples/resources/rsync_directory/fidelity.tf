# A disk-image store: hard links kept as links (rsync -H), images written
# sparse (-S), what an apply replaces or deletes kept in .previous/ on the
# server (--backup-dir; never deleted, never drift), and the upload held
# to 10 MiB/s (--bwlimit, in KiB/s). Fifos, sockets and, when the remote
# user is root, device files are copied as with rsync -a (devices and
# specials default to true).
resource "rsync_directory" "images" {
  source      = "${path.module}/images/"
  destination = "deploy@store1.example.com:/srv/images/"
  delete      = true

  hard_links = true
  sparse     = true
  backup_dir = ".previous"
  bwlimit    = 10240
  specials   = false # the tree's fifos are local plumbing: leave them out
}
