module github.com/queue-engine/queue

go 1.22
