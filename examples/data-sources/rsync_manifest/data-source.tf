# Describe the local build output and the deployed copy; the hash has the
# same definition as rsync_directory's source_hash.
data "rsync_manifest" "build" {
  path    = "${path.module}/site/"
  exclude = [".git/"]
}

data "rsync_manifest" "live" {
  path = "deploy@web1.example.com:/var/www/site/"
  mode = "metadata" # sizes and times only: reads no file data on the server
}

output "build" {
  value = "${data.rsync_manifest.build.file_count} files, ${data.rsync_manifest.build.total_bytes} bytes, ${data.rsync_manifest.build.hash}"
}

# Re-run something whenever the site changes.
resource "terraform_data" "purge_cdn" {
  triggers_replace = [data.rsync_manifest.build.hash]
}
