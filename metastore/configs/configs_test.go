package configs

import (
	"slices"
	"testing"
)

// A topic config Kafka has no broker synonym for (ServerTopicConfigSynonyms lists none:
// the replication throttles, remote.storage.enable, ...) is described with no synonyms,
// or only its topic override, as ConfigHelper.createTopicConfigEntry describes it; one
// with a broker key lists that key's value after the override.
func TestTopicSynonymsNameOnlyRealKeys(t *testing.T) {
	b := &Broker{ID: 1, Static: map[string]string{"log.retention.ms": "604800000"}}
	overrides := map[string]string{"follower.replication.throttled.replicas": "*", "retention.ms": "1000"}
	got := map[string]Value{}
	for _, v := range ResolveTopic(overrides, b) {
		got[v.Name] = v
		for _, s := range v.Synonyms {
			if s.Name == "" {
				t.Errorf("%s has a synonym without a name: %+v", v.Name, s)
			}
		}
	}
	want := map[string]Value{
		"remote.storage.enable":                   {Name: "remote.storage.enable", Value: "false", Source: SourceDefault},
		"leader.replication.throttled.replicas":   {Name: "leader.replication.throttled.replicas", Value: "", Source: SourceDefault},
		"follower.replication.throttled.replicas": {Name: "follower.replication.throttled.replicas", Value: "*", Source: SourceTopic, Synonyms: []Synonym{{"follower.replication.throttled.replicas", "*", SourceTopic}}},
		"retention.ms": {Name: "retention.ms", Value: "1000", Source: SourceTopic,
			Synonyms: []Synonym{{"retention.ms", "1000", SourceTopic}, {"log.retention.ms", "604800000", SourceDefault}}},
	}
	for name, w := range want {
		g := got[name]
		if g.Name != w.Name || g.Value != w.Value || g.Source != w.Source || !slices.Equal(g.Synonyms, w.Synonyms) {
			t.Errorf("%s resolved to %+v, want %+v", name, g, w)
		}
	}
}
