# Import a tree already on a host by its destination. The next plan sets
# `source` (and any non-default settings) in place and changes no file
# when the trees match.
terraform import rsync_directory.site 'deploy@web1.example.com:/var/www/site/'

# Or name the source too, as SOURCE|DESTINATION (the source exactly as the
# configuration writes it): the next plan is then empty when the trees match
# and the configuration keeps the default settings; other settings (delete,
# exclude, ...) are set in place by the next apply, which transfers nothing
# unless pending lists something.
terraform import rsync_directory.site './site/|deploy@web1.example.com:/var/www/site/'
