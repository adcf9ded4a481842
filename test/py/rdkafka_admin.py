"""librdkafka's C admin API for consumer groups and DeleteRecords, through ctypes:
librdkafka 2.0 has these (ListConsumerGroups, DescribeConsumerGroups,
List/Alter/DeleteConsumerGroupOffsets, DeleteGroups, DeleteRecords), but Debian's
confluent-kafka-python 1.7 binding does not wrap them. Used by ck_group_admin.py.

Only what the test needs: results are returned as plain lists and dicts, and the handles
live until the process exits."""

import ctypes as C

lib = C.CDLL("librdkafka.so.1")
AVAILABLE = all(hasattr(lib, name) for name in (
    "rd_kafka_ListConsumerGroups", "rd_kafka_DescribeConsumerGroups", "rd_kafka_ListConsumerGroupOffsets",
    "rd_kafka_AlterConsumerGroupOffsets", "rd_kafka_DeleteConsumerGroupOffsets", "rd_kafka_DeleteGroups",
    "rd_kafka_DeleteRecords"))
vp, cp = C.c_void_p, C.c_char_p

# rd_kafka_topic_partition_t and rd_kafka_topic_partition_list_t (rdkafka.h).
class TP(C.Structure):
    _fields_ = [("topic", cp), ("partition", C.c_int32), ("offset", C.c_int64), ("metadata", vp),
                ("metadata_size", C.c_size_t), ("opaque", vp), ("err", C.c_int), ("_private", vp)]
class TPList(C.Structure):
    _fields_ = [("cnt", C.c_int), ("size", C.c_int), ("elems", C.POINTER(TP))]

def fn(name, res, *args):
    f = getattr(lib, name); f.restype = res; f.argtypes = list(args); return f

conf_new = fn("rd_kafka_conf_new", vp)
conf_set = fn("rd_kafka_conf_set", C.c_int, vp, cp, cp, cp, C.c_size_t)
kafka_new = fn("rd_kafka_new", vp, C.c_int, vp, cp, C.c_size_t)
queue_new = fn("rd_kafka_queue_new", vp, vp)
queue_poll = fn("rd_kafka_queue_poll", vp, vp, C.c_int)
opts_new = fn("rd_kafka_AdminOptions_new", vp, vp, C.c_int)
ev_error = fn("rd_kafka_event_error", C.c_int, vp)
ev_error_string = fn("rd_kafka_event_error_string", cp, vp)
ev_destroy = fn("rd_kafka_event_destroy", None, vp)
err2name = fn("rd_kafka_err2name", cp, C.c_int)
tpl_new = fn("rd_kafka_topic_partition_list_new", C.POINTER(TPList), C.c_int)
tpl_add = fn("rd_kafka_topic_partition_list_add", C.POINTER(TP), C.POINTER(TPList), cp, C.c_int32)
error_code = fn("rd_kafka_error_code", C.c_int, vp)
group_result_name = fn("rd_kafka_group_result_name", cp, vp)
group_result_error = fn("rd_kafka_group_result_error", vp, vp)
group_result_partitions = fn("rd_kafka_group_result_partitions", C.POINTER(TPList), vp)

def tplist(items):
    """A partition list of (topic, partition, offset) items."""
    l = tpl_new(len(items))
    for t, p, o in items:
        tpl_add(l, t.encode(), p).contents.offset = o
    return l

def parts(l):
    """A partition list as [topic, partition, offset, error name] items."""
    if not l: return None
    return [[l.contents.elems[i].topic.decode(), l.contents.elems[i].partition, l.contents.elems[i].offset,
             err2name(l.contents.elems[i].err).decode()] for i in range(l.contents.cnt)]

def err_of(e):
    """The error's name (None for no error)."""
    return None if not e else err2name(error_code(e)).decode()

class Admin:
    """A producer handle used for its admin API, with one result queue."""

    def __init__(self, addr):
        conf = conf_new()
        errstr = C.create_string_buffer(512)
        conf_set(conf, b"bootstrap.servers", addr.encode(), errstr, 512)
        self.rk = kafka_new(0, conf, errstr, 512)  # 0: RD_KAFKA_PRODUCER
        if not self.rk:
            raise SystemExit("rd_kafka_new: %s" % errstr.value.decode())
        self.q = queue_new(self.rk)

    def call(self, result_getter, launch):
        """Starts a request with launch(rk, options, queue) and waits for its result event:
        returns {"error": the request-level error or None}, the typed result and the event."""
        opts = opts_new(self.rk, 0)
        launch(self.rk, opts, self.q)
        ev = queue_poll(self.q, 20000)
        if not ev:
            raise SystemExit("%s: no result within 20 s" % result_getter)
        out = {"error": None}
        if ev_error(ev):
            out["error"] = "%s: %s" % (err2name(ev_error(ev)).decode(), ev_error_string(ev).decode())
        res = fn(result_getter, vp, vp)(ev)
        return out, res, ev

    def group_results(self, getter, res):
        n = C.c_size_t()
        arr = fn(getter, C.POINTER(vp), vp, C.POINTER(C.c_size_t))(res, C.byref(n))
        return [{"group": group_result_name(arr[i]).decode(), "error": err_of(group_result_error(arr[i])),
                 "partitions": parts(group_result_partitions(arr[i]))} for i in range(n.value)]

    def delete_records(self, items):
        new = fn("rd_kafka_DeleteRecords_new", vp, C.POINTER(TPList))
        arr = (vp * 1)(new(tplist(items)))
        out, res, ev = self.call("rd_kafka_event_DeleteRecords_result",
                                 lambda rk, o, q: fn("rd_kafka_DeleteRecords", None, vp, vp, C.c_size_t, vp, vp)(rk, arr, 1, o, q))
        if res: out["offsets"] = parts(fn("rd_kafka_DeleteRecords_result_offsets", C.POINTER(TPList), vp)(res))
        return out

    def delete_groups(self, groups):
        new = fn("rd_kafka_DeleteGroup_new", vp, cp)
        arr = (vp * len(groups))(*[new(g.encode()) for g in groups])
        out, res, ev = self.call("rd_kafka_event_DeleteGroups_result",
                                 lambda rk, o, q: fn("rd_kafka_DeleteGroups", None, vp, vp, C.c_size_t, vp, vp)(rk, arr, len(groups), o, q))
        if res: out["groups"] = self.group_results("rd_kafka_DeleteGroups_result_groups", res)
        return out

    def list_groups(self, states=None):
        def launch(rk, o, q):
            if states is not None:
                arr = (C.c_int * len(states))(*states)
                e = fn("rd_kafka_AdminOptions_set_match_consumer_group_states", vp, vp, C.POINTER(C.c_int), C.c_size_t)(o, arr, len(states))
                if e: raise SystemExit(err_of(e))
            fn("rd_kafka_ListConsumerGroups", None, vp, vp, vp)(rk, o, q)
        out, res, ev = self.call("rd_kafka_event_ListConsumerGroups_result", launch)
        if res:
            n = C.c_size_t()
            arr = fn("rd_kafka_ListConsumerGroups_result_valid", C.POINTER(vp), vp, C.POINTER(C.c_size_t))(res, C.byref(n))
            out["groups"] = sorted([fn("rd_kafka_ConsumerGroupListing_group_id", cp, vp)(arr[i]).decode(),
                                    fn("rd_kafka_ConsumerGroupListing_is_simple_consumer_group", C.c_int, vp)(arr[i]),
                                    fn("rd_kafka_ConsumerGroupListing_state", C.c_int, vp)(arr[i])] for i in range(n.value))
            arr = fn("rd_kafka_ListConsumerGroups_result_errors", C.POINTER(vp), vp, C.POINTER(C.c_size_t))(res, C.byref(n))
            out["errors"] = [err_of(arr[i]) for i in range(n.value)]
        return out

    def describe_groups(self, groups):
        garr = (cp * len(groups))(*[g.encode() for g in groups])
        out, res, ev = self.call("rd_kafka_event_DescribeConsumerGroups_result",
                                 lambda rk, o, q: fn("rd_kafka_DescribeConsumerGroups", None, vp, C.POINTER(cp), C.c_size_t, vp, vp)(rk, garr, len(groups), o, q))
        if res:
            n = C.c_size_t()
            arr = fn("rd_kafka_DescribeConsumerGroups_result_groups", C.POINTER(vp), vp, C.POINTER(C.c_size_t))(res, C.byref(n))
            descs = []
            for i in range(n.value):
                g = arr[i]
                node = fn("rd_kafka_ConsumerGroupDescription_coordinator", vp, vp)(g)
                members = []
                for m in range(fn("rd_kafka_ConsumerGroupDescription_member_count", C.c_size_t, vp)(g)):
                    md = fn("rd_kafka_ConsumerGroupDescription_member", vp, vp, C.c_size_t)(g, m)
                    asg = fn("rd_kafka_MemberDescription_assignment", vp, vp)(md)
                    members.append({"client_id": fn("rd_kafka_MemberDescription_client_id", cp, vp)(md).decode(),
                                    "consumer_id": fn("rd_kafka_MemberDescription_consumer_id", cp, vp)(md).decode(),
                                    "host": fn("rd_kafka_MemberDescription_host", cp, vp)(md).decode(),
                                    "assignment": parts(fn("rd_kafka_MemberAssignment_partitions", C.POINTER(TPList), vp)(asg))})
                descs.append({"group": fn("rd_kafka_ConsumerGroupDescription_group_id", cp, vp)(g).decode(),
                              "error": err_of(fn("rd_kafka_ConsumerGroupDescription_error", vp, vp)(g)),
                              "simple": fn("rd_kafka_ConsumerGroupDescription_is_simple_consumer_group", C.c_int, vp)(g),
                              "assignor": (fn("rd_kafka_ConsumerGroupDescription_partition_assignor", cp, vp)(g) or b"").decode(),
                              "state": fn("rd_kafka_ConsumerGroupDescription_state", C.c_int, vp)(g),
                              "coordinator": node and [fn("rd_kafka_Node_id", C.c_int, vp)(node), fn("rd_kafka_Node_host", cp, vp)(node).decode(), fn("rd_kafka_Node_port", C.c_uint16, vp)(node)],
                              "members": members})
            out["groups"] = descs
        return out

    def _group_offsets(self, kind, group, items):
        new = fn("rd_kafka_%s_new" % kind, vp, cp, C.POINTER(TPList))
        arr = (vp * 1)(new(group.encode(), tplist(items) if items is not None else None))
        out, res, ev = self.call("rd_kafka_event_%s_result" % kind,
                                 lambda rk, o, q: fn("rd_kafka_%s" % kind, None, vp, vp, C.c_size_t, vp, vp)(rk, arr, 1, o, q))
        if res: out["groups"] = self.group_results("rd_kafka_%s_result_groups" % kind, res)
        return out

    def list_offsets(self, group, items=None): return self._group_offsets("ListConsumerGroupOffsets", group, items)
    def alter_offsets(self, group, items): return self._group_offsets("AlterConsumerGroupOffsets", group, items)
    def delete_offsets(self, group, items): return self._group_offsets("DeleteConsumerGroupOffsets", group, items)
