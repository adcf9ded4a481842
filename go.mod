module github.com/chronik/chronik-node

go 1.26.8

require (
	github.com/twmb/franz-go v1.22.3
	go.etcd.io/bbolt v1.5.0
)

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)
