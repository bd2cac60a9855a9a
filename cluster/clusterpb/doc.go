// Package clusterpb holds the protobuf messages that cross the network
// between cluster members (account.proto). account.pb.go is generated:
//
//	go generate ./cluster/clusterpb
//
// needs protoc and protoc-gen-go (google.golang.org/protobuf/cmd/protoc-gen-go,
// at go.mod's version); the generated file is committed, so building needs
// neither.
package clusterpb

//go:generate sh -c "protoc -I . -I $(go list -m -f '{{.Dir}}' github.com/asynkron/protoactor-go)/actor --go_out=. --go_opt=paths=source_relative --go_opt=Mactor.proto=github.com/asynkron/protoactor-go/actor account.proto"
