#!/usr/bin/env python3
"""Spark Structured Streaming's side of the side-by-side benchmark.

Reads the shopstream transactions topic from Kafka, parses every event in
full (the schema of docs/event-schema.md), gives it a trivial rule score,
and appends the same `transactions` row shopstream's processor stores (same
table, keys and indexes, made by `shopstream migrate up` in a schema of its
own) over JDBC, at least once. It does none of the rest of shopstream's
processing: no quality checks, deduplication, fraud features, state,
windows, customers, alerts or exactly-once offsets.

It prints "started" once the query runs, and after each micro-batch
"batch <id> <unix seconds after the JDBC commit>"; sidebyside.py times
it by the rows it finds stored.

Usage: stream.py --brokers HOST:PORT --topic T --jdbc URL --schema S
                 --checkpoint DIR [--max-offsets N]
"""

import argparse
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

ITEM = T.StructType([
    T.StructField("product_id", T.StringType()),
    T.StructField("category", T.StringType()),
    T.StructField("quantity", T.IntegerType()),
    T.StructField("unit_price", T.DecimalType(18, 4)),
])
EVENT = T.StructType([
    T.StructField("schema_version", T.IntegerType()),
    T.StructField("transaction_id", T.StringType()),
    T.StructField("customer_id", T.StringType()),
    T.StructField("event_time", T.TimestampType()),
    T.StructField("items", T.ArrayType(ITEM)),
    T.StructField("total_amount", T.DecimalType(18, 2)),
    T.StructField("currency", T.StringType()),
    T.StructField("payment_method", T.StringType()),
    T.StructField("card", T.StructType([
        T.StructField("bin", T.StringType()),
        T.StructField("last4", T.StringType()),
    ])),
    T.StructField("device_id", T.StringType()),
    T.StructField("ip_address", T.StringType()),
    T.StructField("billing_country", T.StringType()),
    T.StructField("shipping_country", T.StringType()),
    T.StructField("channel", T.StringType()),
])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--jdbc", required=True, help="jdbc:postgresql://host:port/db?user=...")
    ap.add_argument("--schema", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--max-offsets", type=int, default=0, help="maxOffsetsPerTrigger (0: no limit)")
    args = ap.parse_args()

    spark = (SparkSession.builder.appName("shopstream-side-by-side").master("local[2]")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.ui.enabled", "false")
             # The embedded broker answers the offset requests of Kafka's
             # admin client differently from Apache Kafka; the consumer's
             # way works with both.
             .config("spark.sql.streaming.kafka.useDeprecatedOffsetFetching", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")

    reader = (spark.readStream.format("kafka")
              .option("kafka.bootstrap.servers", args.brokers)
              .option("subscribe", args.topic)
              .option("startingOffsets", "earliest")
              .option("failOnDataLoss", "false"))
    if args.max_offsets > 0:
        reader = reader.option("maxOffsetsPerTrigger", args.max_offsets)
    raw = reader.load()
    ev = raw.select(F.from_json(F.col("value").cast("string"), EVENT).alias("e"),
                    F.col("partition"), F.col("offset"), F.col("timestamp"))
    total = F.col("e.total_amount").cast("double")
    # A trivial rule: review large orders shipped abroad.
    risky = (total > 1000) & (F.col("e.billing_country") != F.col("e.shipping_country"))
    rows = ev.select(
        F.col("e.transaction_id").alias("transaction_id"),
        F.col("e.customer_id").alias("customer_id"),
        F.col("e.event_time").alias("event_time"),
        F.round(F.col("e.total_amount") * 100).cast("long").alias("total_cents"),
        F.col("e.currency").alias("currency"),
        F.col("e.payment_method").alias("payment_method"),
        F.col("e.channel").alias("channel"),
        F.coalesce(F.col("e.card.bin"), F.lit("")).alias("card_bin"),
        F.coalesce(F.col("e.card.last4"), F.lit("")).alias("card_last4"),
        F.coalesce(F.col("e.device_id"), F.lit("")).alias("device_id"),
        F.coalesce(F.col("e.ip_address"), F.lit("")).alias("ip_address"),
        F.col("e.billing_country").alias("billing_country"),
        F.col("e.shipping_country").alias("shipping_country"),
        F.to_json(F.col("e.items")).alias("items"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.when(risky, F.lit(0.8)).otherwise(F.lit(0.05)).cast("float").alias("risk"),
        F.when(risky, F.lit("review")).otherwise(F.lit("approve")).alias("decision"),
        F.when(risky, F.lit('["large_order_abroad"]')).otherwise(F.lit("[]")).alias("reasons"),
        F.col("timestamp").alias("produced_at"),
    )

    url = args.jdbc + ("&" if "?" in args.jdbc else "?") + "currentSchema=" + args.schema + "&stringtype=unspecified"

    def write(df, batch_id):
        df.write.format("jdbc").mode("append").option("url", url).option("dbtable", "transactions") \
            .option("batchsize", 10000).option("driver", "org.postgresql.Driver").save()
        print(f"batch {batch_id} {time.time():.6f}", flush=True)

    q = (rows.writeStream.foreachBatch(write)
         .option("checkpointLocation", args.checkpoint)
         .start())
    print("started", flush=True)
    try:
        q.awaitTermination()
    except KeyboardInterrupt:
        q.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
