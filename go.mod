module github.com/chronik/chronik-node

go 1.26.8
