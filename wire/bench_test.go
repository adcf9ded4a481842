package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkRoundTrip measures pipelined small requests through the server over loopback:
// each connection's client writes its share of b.N Metadata v12 requests back to back
// while reading the responses, and the handler answers with an empty response.
//
//	go test -run XXX -bench RoundTrip -benchtime 200000x ./wire/
func BenchmarkRoundTrip(b *testing.B) {
	for _, conns := range []int{1, 8} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			ts := startServer(b, ServerConfig{}, API{Key: 3, MinVersion: 0, MaxVersion: 12,
				Handle: func(_ context.Context, req *Request) (kmsg.Response, error) {
					return req.Body.(*kmsg.MetadataRequest).ResponseKind(), nil
				}})
			frame := appendRequest(nil, 0, nil, metadataRequest(12, "bench"))
			clients := make([]net.Conn, conns)
			for i := range clients {
				nc, err := net.Dial("tcp", ts.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				clients[i] = nc
			}
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			errs := make(chan error, 2*conns)
			for i, nc := range clients {
				n := b.N / conns
				if i < b.N%conns {
					n++
				}
				wg.Add(2)
				go func() {
					defer wg.Done()
					bw := bufio.NewWriter(nc)
					for range n {
						if _, err := bw.Write(frame); err != nil {
							errs <- err
							return
						}
					}
					if err := bw.Flush(); err != nil {
						errs <- err
					}
				}()
				go func() {
					defer wg.Done()
					br := bufio.NewReader(nc)
					var prefix [4]byte
					for range n {
						if _, err := io.ReadFull(br, prefix[:]); err != nil {
							errs <- err
							return
						}
						if _, err := br.Discard(int(binary.BigEndian.Uint32(prefix[:]))); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
