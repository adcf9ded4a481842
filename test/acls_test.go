package test

import (
	"errors"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The node has no authorizer. ACL requests get SECURITY_DISABLED, as from a Kafka broker
// without one; before, they got UNSUPPORTED_VERSION. Admin tools and UIs ask for ACLs to
// learn whether any are in force.
func TestAclRequestsSaySecurityIsDisabled(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)
	cl := n.client()

	describe := kmsg.NewPtrDescribeACLsRequest()
	describe.ResourceType, describe.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	describe.Operation, describe.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	dr, err := describe.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if dr.ErrorCode != kerr.SecurityDisabled.Code || dr.ErrorMessage == nil {
		t.Fatalf("DescribeAcls: error %d (%v), want SECURITY_DISABLED with a message", dr.ErrorCode, dr.ErrorMessage)
	}

	create := kmsg.NewPtrCreateACLsRequest()
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "orders", kmsg.ACLResourcePatternTypeLiteral
	c.Principal, c.Host, c.Operation, c.PermissionType = "User:alice", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
	create.Creations = []kmsg.CreateACLsRequestCreation{c, c}
	cr, err := create.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.Results) != 2 || cr.Results[0].ErrorCode != kerr.SecurityDisabled.Code || cr.Results[1].ErrorCode != kerr.SecurityDisabled.Code {
		t.Fatalf("CreateAcls of two bindings: %+v, want SECURITY_DISABLED for each", cr.Results)
	}

	del := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	del.Filters = []kmsg.DeleteACLsRequestFilter{f}
	delr, err := del.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(delr.Results) != 1 || delr.Results[0].ErrorCode != kerr.SecurityDisabled.Code {
		t.Fatalf("DeleteAcls: %+v, want SECURITY_DISABLED", delr.Results)
	}

	// Sarama's admin, as a tool would use it, sees the same.
	adm, err := sarama.NewClusterAdmin([]string{n.kafkaAddr}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	_, err = adm.ListAcls(sarama.AclFilter{ResourceType: sarama.AclResourceAny, ResourcePatternTypeFilter: sarama.AclPatternAny,
		Operation: sarama.AclOperationAny, PermissionType: sarama.AclPermissionAny})
	if !errors.Is(err, sarama.ErrSecurityDisabled) {
		t.Fatalf("Sarama ListAcls: %v, want SECURITY_DISABLED", err)
	}
}
