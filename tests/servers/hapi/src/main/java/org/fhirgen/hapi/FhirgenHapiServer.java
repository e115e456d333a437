// SPDX-License-Identifier: Apache-2.0
package org.fhirgen.hapi;

import ca.uhn.fhir.rest.server.RestfulServer;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;

/**
 * Starts a HAPI FHIR JPA server (R4) on plain HTTP at http://127.0.0.1:PORT/fhir.
 *
 * The Spring context (HAPI's JPA configuration plus {@link FhirgenHapiConfig}) is made
 * first; Jetty opens its port only once the context is ready, so the first answer on
 * the port is a working server. Once listening, one line goes to standard output:
 * {@code listening http://127.0.0.1:PORT/fhir}. SIGTERM/SIGINT stop Jetty and close
 * the context (and so the database pool).
 */
public final class FhirgenHapiServer {

	private static final Logger ourLog = LoggerFactory.getLogger(FhirgenHapiServer.class);

	private FhirgenHapiServer() {}

	public static void main(String[] args) throws Exception {
		LauncherOptions options;
		try {
			options = LauncherOptions.parse(args);
		} catch (IllegalArgumentException e) {
			System.err.println("fhirgen-hapi-server: " + e.getMessage());
			System.err.println(LauncherOptions.USAGE);
			System.exit(2);
			return;
		}
		try {
			start(options).join();
		} catch (Throwable e) {
			// Non-daemon threads (schedulers, pools) would keep a half-started JVM alive.
			ourLog.error("start-up failed", e);
			System.exit(1);
		}
	}

	private static Server start(LauncherOptions options) throws Exception {
		long t0 = System.nanoTime();

		AnnotationConfigApplicationContext spring = new AnnotationConfigApplicationContext();
		spring.registerBean(LauncherOptions.class, () -> options);
		spring.register(FhirgenHapiConfig.class);
		spring.refresh();
		RestfulServer fhir = spring.getBean(RestfulServer.class);

		QueuedThreadPool threads = new QueuedThreadPool(options.httpThreads, 4);
		threads.setName("http");
		Server jetty = new Server(threads);
		HttpConfiguration http = new HttpConfiguration();
		http.setSendServerVersion(false);
		http.setRequestHeaderSize(64 * 1024);
		ServerConnector connector = new ServerConnector(jetty, new HttpConnectionFactory(http));
		connector.setHost(options.host);
		connector.setPort(options.port);
		// A large transaction can keep a connection silent for minutes while it is processed.
		connector.setIdleTimeout(15 * 60 * 1000L);
		jetty.addConnector(connector);

		ServletContextHandler context = new ServletContextHandler();
		context.setContextPath("/");
		ServletHolder holder = new ServletHolder("fhir", fhir);
		holder.setInitOrder(1);
		context.addServlet(holder, "/fhir/*");
		jetty.setHandler(context);
		jetty.setStopAtShutdown(false);

		Runtime.getRuntime().addShutdownHook(new Thread(() -> {
			try {
				jetty.stop();
			} catch (Exception e) {
				ourLog.warn("stopping Jetty: {}", e.toString());
			}
			spring.close();
		}, "shutdown"));

		jetty.start();
		long ms = (System.nanoTime() - t0) / 1_000_000;
		String url = "http://" + options.host + ":" + connector.getLocalPort() + "/fhir";
		ourLog.info("HAPI FHIR JPA server ready at {} after {} ms ({}, max bundle entries: {})",
				url, ms, options.db, options.maxBundleEntries == null ? "no limit" : options.maxBundleEntries);
		System.out.println("listening " + url);
		System.out.flush();
		return jetty;
	}
}
