"""Prometheus remote write 1.0 messages (WriteRequest, TimeSeries, Label, Sample, MetricMetadata) as protobuf
classes, built from a descriptor written here: no prompb package is published for Python, and a parser of our own
would be a second reading of the wire format to get wrong.

Field numbers mirror prometheus/prompb (v2.42, the remote write 1.0 specification):
  remote.proto  WriteRequest   { repeated TimeSeries timeseries = 1; reserved 2; repeated MetricMetadata metadata = 3; }
  types.proto   MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
                Sample         { double value = 1; int64 timestamp = 2; }
                TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
                                 repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
                Label          { string name = 1; string value = 2; }
Exemplars and native histograms are left out: their fields are skipped as unknown fields when a body carries them.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
# MetricMetadata.MetricType, in types.proto's order.
METRIC_TYPES = ("UNKNOWN", "COUNTER", "GAUGE", "HISTOGRAM", "GAUGEHISTOGRAM", "SUMMARY", "INFO", "STATESET")


def _message(file: descriptor_pb2.FileDescriptorProto, name: str, fields: list[tuple]) -> None:
    message = file.message_type.add(name=name)
    for field_name, number, kind, label, type_name in fields:
        field = message.field.add(name=field_name, number=number, type=kind, label=label)
        if type_name:
            field.type_name = type_name


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(name="novaops/prompb.proto", package="prometheus", syntax="proto3")
    one, many = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    _message(
        file,
        "WriteRequest",
        [
            ("timeseries", 1, _F.TYPE_MESSAGE, many, ".prometheus.TimeSeries"),
            ("metadata", 3, _F.TYPE_MESSAGE, many, ".prometheus.MetricMetadata"),
        ],
    )
    _message(
        file,
        "MetricMetadata",
        [
            ("type", 1, _F.TYPE_ENUM, one, ".prometheus.MetricMetadata.MetricType"),
            ("metric_family_name", 2, _F.TYPE_STRING, one, None),
            ("help", 4, _F.TYPE_STRING, one, None),
            ("unit", 5, _F.TYPE_STRING, one, None),
        ],
    )
    metric_type = file.message_type[-1].enum_type.add(name="MetricType")
    for number, name in enumerate(METRIC_TYPES):
        metric_type.value.add(name=name, number=number)
    _message(
        file,
        "Sample",
        [("value", 1, _F.TYPE_DOUBLE, one, None), ("timestamp", 2, _F.TYPE_INT64, one, None)],
    )
    _message(
        file,
        "TimeSeries",
        [
            ("labels", 1, _F.TYPE_MESSAGE, many, ".prometheus.Label"),
            ("samples", 2, _F.TYPE_MESSAGE, many, ".prometheus.Sample"),
        ],
    )
    _message(
        file,
        "Label",
        [("name", 1, _F.TYPE_STRING, one, None), ("value", 2, _F.TYPE_STRING, one, None)],
    )
    return file


# A pool of our own: the default pool is shared with every other protobuf user in the process.
_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())


def _class(name: str) -> type:
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"prometheus.{name}"))


WriteRequest = _class("WriteRequest")
TimeSeries = _class("TimeSeries")
Label = _class("Label")
Sample = _class("Sample")
MetricMetadata = _class("MetricMetadata")
