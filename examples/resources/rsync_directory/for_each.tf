# One provider block, many hosts: each instance opens its own SSH
# connection with the provider's settings (the user may differ per host).
variable "web_hosts" {
  type = map(string)
  default = {
    web1 = "deploy@web1.example.com:/var/www/site/"
    web2 = "deploy@web2.example.com:/var/www/site/"
    web3 = "www@web3.example.com:/srv/www/site/"
  }
}

resource "rsync_directory" "web" {
  for_each = var.web_hosts

  source      = "${path.module}/site/"
  destination = each.value
  delete      = true
}
