module github.com/logcollect/logcollect/devkit/testkit

go 1.26.0

require (
	github.com/prometheus/common v0.67.5
	go.yaml.in/yaml/v2 v2.4.3
)

require (
	github.com/kr/pretty v0.3.1 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_model v0.6.2 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
