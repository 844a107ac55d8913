// The broker fixture says exactly what is missing instead of failing somewhere inside Java.
import { describe, expect, it } from 'vitest';
import { requireKafkaPrerequisites, startKafkaBroker } from '../../src/farm/kafka-broker.js';
import { MissingDependencyError } from '../../src/farm/process-tree.js';

describe('Kafka broker fixture prerequisites', () => {
  it('names the missing jars and how to fetch them', async () => {
    expect(() => requireKafkaPrerequisites('/nonexistent/kafka-libs')).toThrow(MissingDependencyError);
    await expect(startKafkaBroker({ libsDir: '/nonexistent/kafka-libs' })).rejects.toThrow(
      'the Kafka 4.x broker jars (kafka_2.13-4.*.jar in /nonexistent/kafka-libs; fetch them with `bash scripts/kafka/fetch-jars.sh`) is missing',
    );
  });

  it('names java when it is not on PATH', () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => requireKafkaPrerequisites()).toThrow(
        'java 17+ (Debian package openjdk-17-jre-headless) is missing',
      );
    } finally {
      process.env.PATH = path;
    }
  });
});
