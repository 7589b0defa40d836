#!/bin/sh
# Kafka's kafka-broker-api-versions.sh, for the compose file's health check:
# lists the API versions each broker answers, and fails when none answers.
exec java -Xmx128m -Djava.awt.headless=true -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties \
	-cp '/opt/kafka/libs/*' org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
