// SPDX-License-Identifier: Apache-2.0
package org.fhirgen.hapi;

/**
 * Command-line options of the launcher. Parsed once in {@link FhirgenHapiServer#main}
 * and handed to the Spring configuration as a bean.
 */
public final class LauncherOptions {

	/** Which database backs the JPA server. */
	public enum Db {
		POSTGRES,
		H2
	}

	/** Address Jetty listens on; loopback only. */
	public String host = "127.0.0.1";

	/** HTTP port; 0 picks a free one (the chosen port is printed). */
	public int port = 0;

	public Db db = Db.H2;

	/** JDBC URL. Default for H2: an in-memory database; required for PostgreSQL. */
	public String jdbcUrl;

	public String dbUser = "";
	public String dbPassword = "";

	/** Largest number of pooled database connections. */
	public int dbPoolSize = 20;

	/** Largest number of Jetty request threads. */
	public int httpThreads = 32;

	/** JpaStorageSettings.setMaximumTransactionBundleSize; null = no limit (HAPI's default). */
	public Integer maxBundleEntries;

	/**
	 * Base URL the server names itself with (Location headers, Bundle links), e.g. the
	 * https address of the TLS proxy in front. Null: taken from each request.
	 */
	public String publicUrl;

	static final String USAGE = String.join(
			"\n",
			"usage: java -jar fhirgen-hapi-server.jar [options]",
			"  --port N                 HTTP port on 127.0.0.1 (0 = any free port; default 0)",
			"  --db h2|postgres         database (default h2)",
			"  --jdbc-url URL           JDBC URL (default for h2: jdbc:h2:mem:fhirgen)",
			"  --db-user NAME           database user",
			"  --db-password TEXT       database password",
			"  --db-pool N              pooled database connections (default 20)",
			"  --http-threads N         Jetty request threads (default 32)",
			"  --max-bundle-entries N   reject transaction/batch Bundles with more entries (default: no limit)",
			"  --public-url URL         base URL the server names itself with (default: from the request)",
			"Prints 'listening http://HOST:PORT/fhir' on standard output once it answers.");

	static LauncherOptions parse(String[] args) {
		LauncherOptions o = new LauncherOptions();
		for (int i = 0; i < args.length; i++) {
			String a = args[i];
			if (a.equals("--help") || a.equals("-h")) {
				System.out.println(USAGE);
				System.exit(0);
			}
			if (i + 1 >= args.length) {
				throw new IllegalArgumentException("option " + a + " needs a value (or is unknown)");
			}
			String v = args[++i];
			switch (a) {
				case "--port" -> o.port = Integer.parseInt(v);
				case "--db" -> o.db = switch (v) {
					case "h2" -> Db.H2;
					case "postgres", "postgresql" -> Db.POSTGRES;
					default -> throw new IllegalArgumentException("--db must be h2 or postgres, not " + v);
				};
				case "--jdbc-url" -> o.jdbcUrl = v;
				case "--db-user" -> o.dbUser = v;
				case "--db-password" -> o.dbPassword = v;
				case "--db-pool" -> o.dbPoolSize = Integer.parseInt(v);
				case "--http-threads" -> o.httpThreads = Integer.parseInt(v);
				case "--max-bundle-entries" -> {
					int n = Integer.parseInt(v);
					if (n <= 0) {
						throw new IllegalArgumentException("--max-bundle-entries must be positive");
					}
					o.maxBundleEntries = n;
				}
				case "--public-url" -> o.publicUrl = v;
				default -> throw new IllegalArgumentException("unknown option " + a);
			}
		}
		if (o.jdbcUrl == null) {
			if (o.db == Db.POSTGRES) {
				throw new IllegalArgumentException("--db postgres needs --jdbc-url");
			}
			// Kept open until the JVM exits, so the in-memory database lives as long as the server.
			o.jdbcUrl = "jdbc:h2:mem:fhirgen;DB_CLOSE_DELAY=-1";
		}
		return o;
	}
}
