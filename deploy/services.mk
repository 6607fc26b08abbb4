# Local services for development and CI: a single-node Kafka (KRaft) on localhost:9092
# and RabbitMQ on localhost:5672. Included by the top-level Makefile, which runs from the
# repo root. Every target is idempotent; see deploy/README.md.

DEPLOY_DIR ?= deploy

.PHONY: up down kafka-up kafka-down kafka-reset rabbitmq-up rabbitmq-down

up: kafka-up rabbitmq-up ## start Kafka and RabbitMQ and wait until both answer

down: kafka-down rabbitmq-down ## stop Kafka and RabbitMQ (data is kept)

kafka-up: ## start the local Kafka broker (fetches jars on first use)
	@bash $(DEPLOY_DIR)/kafka/up.sh

kafka-down: ## stop the local Kafka broker
	@bash $(DEPLOY_DIR)/kafka/down.sh

kafka-reset: ## stop Kafka and wipe var/kafka (topics, offsets, logs)
	@bash $(DEPLOY_DIR)/kafka/reset.sh

rabbitmq-up: ## install (once, apt) and start RabbitMQ
	@bash $(DEPLOY_DIR)/rabbitmq/up.sh

rabbitmq-down: ## stop RabbitMQ
	@bash $(DEPLOY_DIR)/rabbitmq/down.sh
