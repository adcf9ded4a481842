package wire

import (
	"fmt"

	"github.com/chronik/chronik-node/metastore"
)

// isInternalTopic reports Kafka's internal topic names
// (org.apache.kafka.common.internals.Topic.isInternal). This broker keeps group offsets
// and state in its metadata store, so none of them exists here, and none may be created
// as an ordinary topic: clients would take it for Kafka's and anyone could write to it.
// Kafka treats __cluster_metadata, its own internal topic kept outside the log layer, the
// same way (ControllerApis.createTopics refuses it).
func isInternalTopic(name string) bool {
	switch name {
	case "__consumer_offsets", "__transaction_state", "__share_group_state":
		return true
	}
	return false
}

// legacyInternalTopic reports whether img holds an internal topic as an ordinary one, as
// an older version let a client create through auto-creation. It can be read and deleted;
// appends and DeleteRecords are refused with INVALID_TOPIC_EXCEPTION, as Kafka refuses
// them for its internal topics (ReplicaManager.appendToLocalLog, deleteRecordsOnLocalLog).
func legacyInternalTopic(img *metastore.Image, name string) bool {
	return isInternalTopic(name) && img.Topics[name] != nil
}

// internalTopicCreation is the message CreateTopics refuses an internal topic with.
func internalTopicCreation(name string) string {
	return fmt.Sprintf("Creation of internal topic %s is prohibited: this broker keeps group offsets and state in its metadata store", name)
}
