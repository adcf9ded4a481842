package test

import (
	"errors"
	"testing"

	"github.com/IBM/sarama"
)

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.ClientID = "chronik-e2e"
	cfg.Metadata.Retry.Max = 10
	return cfg
}

func TestSaramaClusterAdmin(t *testing.T) {
	n := startNode(t, "")
	adm, err := sarama.NewClusterAdmin([]string{n.kafkaAddr}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()

	retention := "7200000"
	if err := adm.CreateTopic("sarama-topic", &sarama.TopicDetail{
		NumPartitions: 4, ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": &retention},
	}, false); err != nil {
		t.Fatal(err)
	}
	err = adm.CreateTopic("sarama-topic", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
	var terr *sarama.TopicError
	if !errors.As(err, &terr) || terr.Err != sarama.ErrTopicAlreadyExists {
		t.Fatalf("second create: %v, want TOPIC_ALREADY_EXISTS", err)
	}

	topics, err := adm.ListTopics()
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := topics["sarama-topic"]; !ok || d.NumPartitions != 4 || d.ConfigEntries["retention.ms"] == nil || *d.ConfigEntries["retention.ms"] != retention {
		t.Fatalf("ListTopics: %+v", topics)
	}
	meta, err := adm.DescribeTopics([]string{"sarama-topic"})
	if err != nil || len(meta) != 1 || len(meta[0].Partitions) != 4 || meta[0].Err != sarama.ErrNoError {
		t.Fatalf("DescribeTopics: %v %+v", err, meta)
	}

	segment := "2097152"
	if err := adm.AlterConfig(sarama.TopicResource, "sarama-topic", map[string]*string{"segment.bytes": &segment}, false); err != nil {
		t.Fatal(err)
	}
	entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: "sarama-topic", ConfigNames: []string{"segment.bytes", "retention.ms"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Name] = e.Value
	}
	// Sarama's AlterConfig is Kafka's replacing AlterConfigs: retention.ms goes back to default.
	if got["segment.bytes"] != segment || got["retention.ms"] != "604800000" {
		t.Fatalf("DescribeConfig after AlterConfig: %v", got)
	}

	if err := adm.CreatePartitions("sarama-topic", 6, nil, false); err != nil {
		t.Fatal(err)
	}
	if meta, _ := adm.DescribeTopics([]string{"sarama-topic"}); len(meta[0].Partitions) != 6 {
		t.Fatalf("%d partitions after CreatePartitions(6)", len(meta[0].Partitions))
	}
	if err := adm.DeleteTopic("sarama-topic"); err != nil {
		t.Fatal(err)
	}
	if err := adm.DeleteTopic("sarama-topic"); !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Fatalf("second delete: %v", err)
	}
	brokers, controller, err := adm.DescribeCluster()
	if err != nil || len(brokers) != 1 || controller != 1 {
		t.Fatalf("DescribeCluster: %v %d brokers controller %d", err, len(brokers), controller)
	}
}
