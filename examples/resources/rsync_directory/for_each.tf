# One provider block, many hosts: the ssh attribute overrides the
# provider's connection settings per host, field by field. Hosts reached
# the same way share one SSH connection per run.
variable "web_hosts" {
  type = map(object({
    destination = string
    port        = optional(number, 22)
  }))
  default = {
    web1 = { destination = "deploy@web1.example.com:/var/www/site/" }
    web2 = { destination = "deploy@web2.example.com:/var/www/site/", port = 2222 }
    web3 = { destination = "www@10.0.3.7:/srv/www/site/" }
  }
}

resource "rsync_directory" "web" {
  for_each = var.web_hosts

  source      = "${path.module}/site/"
  destination = each.value.destination
  delete      = true

  ssh = {
    port = each.value.port
  }
}
