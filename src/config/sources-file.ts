/**
 * Java's `sources.properties`: `<any key>=<EventSource class>` per line, read where Java's
 * EventSourceManager finds it, and turned into `sources.list` entries (docs/MIGRATING.md).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readProperties } from './properties';

/**
 * The test sources the Java distribution ships in its sources.properties, and the built-in
 * source of ours that does the same job.
 */
const JAVA_TEST_SOURCES: Readonly<Record<string, string>> = {
  'nl.justobjects.pushlet.test.TestEventPullSources$PingEventPullSource': 'ping',
  'nl.justobjects.pushlet.test.TestEventPullSources$AEXStocksEventPullSource': 'ticker',
  'nl.justobjects.pushlet.test.TestEventPushSources$AEXStocksEventPushSource': 'ticker',
  'nl.justobjects.pushlet.test.TestEventPullSources$TemperatureEventPullSource': 'temperature',
};

/** A dotted Java class name (inner classes after `$`), as opposed to a built-in name or a module path. */
const JAVA_CLASS = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$/;
const MODULE_FILE = /\.[cm]?js$/;

/**
 * Where Java would read sources.properties, first found wins: beside the pushlet.properties
 * given (our stand-in for Java's classpath), then the webapp's `WEB-INF/classes` (the classpath
 * of a WAR), then its `WEB-INF` (Java's fallback).
 */
export function findSourcesFile(configFile: string | undefined, webapp: string): string | undefined {
  const places = [
    configFile && join(dirname(configFile), 'sources.properties'),
    webapp && join(webapp, 'WEB-INF', 'classes', 'sources.properties'),
    webapp && join(webapp, 'WEB-INF', 'sources.properties'),
  ];
  return places.find((p): p is string => !!p && existsSync(p));
}

/**
 * The `sources.list` entries of a sources.properties file, in file order, each once: Java's
 * test sources become our built-ins; other Java classes cannot run here and are reported
 * through `warn` (Java, too, logs a source it cannot create and goes on); anything else is a
 * built-in name or a module path, relative to the file.
 */
export function sourcesFromFile(file: string, warn: (message: string) => void): string[] {
  const out = new Set<string>();
  for (const [key, value] of Object.entries(readProperties(file))) {
    const builtin = JAVA_TEST_SOURCES[value];
    if (builtin) out.add(builtin);
    else if (JAVA_CLASS.test(value) && !MODULE_FILE.test(value)) {
      warn(`${file}: ${key}=${value} is a Java class, which cannot run here; not started (use a built-in source: ping, ticker, temperature, or a module path)`);
    } else if (value) out.add(/[/\\]/.test(value) || MODULE_FILE.test(value) ? resolve(dirname(file), value) : value);
  }
  return [...out];
}
