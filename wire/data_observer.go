package wire

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DataObserver is an optional hook for metrics on the data path: record bytes per topic
// and per-partition error codes of Produce and Fetch (their responses have no top-level
// error code for Observer.RequestDone to report). Its methods are called from handler
// goroutines concurrently and must not block.
type DataObserver interface {
	// TopicBytesIn reports the record batch bytes one Produce carried for a topic.
	TopicBytesIn(topic string, bytes int)
	// TopicBytesOut reports the record batch bytes one Fetch returned for a topic.
	TopicBytesOut(topic string, bytes int)
	// PartitionError reports one partition of a response of API key answered with a
	// non-zero error code.
	PartitionError(key int16, code int16)
}

type nopDataObserver struct{}

func (nopDataObserver) TopicBytesIn(string, int)    {}
func (nopDataObserver) TopicBytesOut(string, int)   {}
func (nopDataObserver) PartitionError(int16, int16) {}

// ObserveData sets the data-path observer (nil turns it off). Call it before serving.
func (h *Handlers) ObserveData(o DataObserver) {
	if o == nil {
		o = nopDataObserver{}
	}
	h.data = o
}

// observeProduce reports a finished Produce to the data observer.
func (h *Handlers) observeProduce(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) {
	if _, off := h.data.(nopDataObserver); off {
		return
	}
	img := h.cluster.Image()
	for _, rt := range req.Topics {
		name, known := topicName(img, rt.Topic, rt.TopicID, req.Version >= 13)
		if !known {
			continue
		}
		bytes := 0
		for _, rp := range rt.Partitions {
			bytes += len(rp.Records)
		}
		h.data.TopicBytesIn(name, bytes)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.ErrorCode != 0 {
				h.data.PartitionError(req.Key(), rp.ErrorCode)
			}
		}
	}
}

// observeFetch reports a finished Fetch to the data observer.
func (h *Handlers) observeFetch(req *kmsg.FetchRequest, resp *kmsg.FetchResponse) {
	if _, off := h.data.(nopDataObserver); off {
		return
	}
	img := h.cluster.Image()
	for _, rt := range resp.Topics {
		bytes := 0
		for _, rp := range rt.Partitions {
			bytes += len(rp.RecordBatches)
			if rp.ErrorCode != 0 {
				h.data.PartitionError(req.Key(), rp.ErrorCode)
			}
		}
		if bytes == 0 {
			continue
		}
		if name, known := topicName(img, rt.Topic, rt.TopicID, req.Version >= 13); known {
			h.data.TopicBytesOut(name, bytes)
		}
	}
}
