from rest_framework import serializers

from metrics.models import IngestBatch


class BatchAcceptedSerializer(serializers.ModelSerializer):
    points = serializers.IntegerField(source="point_count")
    series = serializers.IntegerField(source="series_count")

    class Meta:
        model = IngestBatch
        fields = ["id", "status", "points", "series"]


class BatchSerializer(serializers.ModelSerializer):
    division = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    points = serializers.IntegerField(source="point_count")
    series = serializers.IntegerField(source="series_count")

    class Meta:
        model = IngestBatch
        fields = [
            "id",
            "status",
            "division",
            "points",
            "series",
            "points_written",
            "ts_min",
            "ts_max",
            "error",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]
