# Pull: a remote source and a local destination. source_hash comes from the
# server's checksummed file list at plan time; a file edited in ./backup is
# drift, restored by the next apply.
resource "rsync_directory" "backup" {
  source      = "backup@db1.example.com:/var/backups/db/"
  destination = "${path.module}/backup/"
  delete      = true
}

# Both sides local: rsync between two directories on the machine running
# Terraform.
resource "rsync_directory" "staging" {
  source      = "${path.module}/build/"
  destination = "/srv/staging/site/"
}
