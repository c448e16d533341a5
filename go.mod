module github.com/queue-engine/queue

go 1.26.0

require (
	github.com/go-sql-driver/mysql v1.10.1
	github.com/klauspost/crc32 v1.3.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/sys v0.49.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
