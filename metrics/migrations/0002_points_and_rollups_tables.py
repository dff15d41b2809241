from django.db import migrations


class Migration(migrations.Migration):
    """The two hot tables, in SQL because the ORM cannot declare partitioning.

    metrics_point is range-partitioned by day on ts with the primary key (series_id, ts): partitions are created
    ahead by beat (and on demand by the ingest task) and dropped whole for retention. No foreign key to series:
    it would cost a lookup per inserted row, and series rows are never deleted while points exist.
    metrics_rollup keeps one row per (series, resolution, bucket); it is small enough to stay unpartitioned.
    """

    dependencies = [("metrics", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql="""
                CREATE TABLE metrics_point (
                    series_id bigint NOT NULL,
                    ts timestamptz NOT NULL,
                    value double precision NOT NULL,
                    PRIMARY KEY (series_id, ts)
                ) PARTITION BY RANGE (ts);

                CREATE TABLE metrics_rollup (
                    series_id bigint NOT NULL,
                    resolution integer NOT NULL CHECK (resolution IN (300, 3600, 86400)),
                    bucket timestamptz NOT NULL,
                    count bigint NOT NULL CHECK (count > 0),
                    sum double precision NOT NULL,
                    min double precision NOT NULL,
                    max double precision NOT NULL,
                    last double precision NOT NULL,
                    last_ts timestamptz NOT NULL,
                    PRIMARY KEY (series_id, resolution, bucket)
                );
            """,
            reverse_sql="DROP TABLE metrics_rollup; DROP TABLE metrics_point;",
        )
    ]
