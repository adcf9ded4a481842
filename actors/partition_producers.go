package actors

import "github.com/chronik/chronik-node/actors/producers"

// DescribeProducersRequest asks a partition for the idempotent producers whose state it
// keeps (Kafka's DescribeProducers): the ones that wrote to it and have not expired.
type DescribeProducersRequest struct {
	Index int
	Reply chan<- DescribeProducersReply
}

// DescribeProducersReply is the partition's producers, sorted by id.
type DescribeProducersReply struct {
	Index     int
	Code      int16
	Producers []producers.Producer
}

// DescribeProducers routes a DescribeProducers lookup to its partition.
func (n *Node) DescribeProducers(tp TopicPartition, r *DescribeProducersRequest) {
	route(n, tp, r, r.Reply, func(code int16) DescribeProducersReply {
		return DescribeProducersReply{Index: r.Index, Code: code}
	})
}

func (a *partitionActor) describeProducers(m *DescribeProducersRequest) DescribeProducersReply {
	r := DescribeProducersReply{Index: m.Index}
	if r.Code = a.checkServing(-1); r.Code != 0 {
		return r
	}
	r.Producers = a.producers.Producers()
	return r
}
