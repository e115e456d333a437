// SPDX-License-Identifier: Apache-2.0
package org.fhirgen.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.model.entity.StorageSettings;
import ca.uhn.fhir.jpa.provider.IJpaSystemProvider;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.narrative2.NullNarrativeGenerator;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.HardcodedServerAddressStrategy;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import jakarta.persistence.EntityManagerFactory;
import java.util.Properties;
import javax.sql.DataSource;
import org.apache.commons.dbcp2.BasicDataSource;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

/**
 * Spring wiring of the HAPI FHIR JPA server (FHIR R4).
 *
 * HAPI's own configuration classes (imported below) define the DAOs, the resource
 * providers, search, the transaction processor and the batch framework; this class
 * supplies what they expect from the application: the storage settings, the data source,
 * the JPA entity manager factory and transaction manager, and the RESTful servlet.
 *
 * Every setting that matters for loading fhirgen's Bundles is in {@link #storageSettings}.
 */
@Configuration
@Import({
	JpaR4Config.class,
	HapiJpaConfig.class,
	JpaBatch2Config.class,
	// Definitions of the batch jobs (reindex, delete-expunge, ...) the DAOs can submit.
	Batch2JobsConfig.class,
	// In-memory message channels, which the batch framework sends its work notices over.
	SubscriptionChannelConfig.class,
	// Thread pools for the parallel parts of Bundle processing.
	ThreadPoolFactoryConfig.class
})
public class FhirgenHapiConfig {

	/**
	 * Storage settings. Anything not set here is HAPI's default; the ones that matter for
	 * loading cohorts are spelled out, defaults included, so they can be read in one place.
	 */
	@Bean
	public JpaStorageSettings storageSettings(LauncherOptions theOptions) {
		JpaStorageSettings s = new JpaStorageSettings();

		// Largest transaction/batch Bundle accepted, in entries. HAPI's default is no limit;
		// --max-bundle-entries sets one (a larger Bundle is answered 413 Payload Too Large).
		s.setMaximumTransactionBundleSize(theOptions.maxBundleEntries);

		// A reference to a resource that does not exist fails the write (HAPI's default, on).
		s.setEnforceReferentialIntegrityOnWrite(true);
		s.setEnforceReferentialIntegrityOnDelete(true);
		// No placeholder resources are made for missing reference targets (default, off).
		s.setAutoCreatePlaceholderReferenceTargets(false);

		// Clients may choose resource ids in any form (fhirgen PUTs Type/<uuid>); ids the
		// server picks (POST) are UUIDs too, as HAPI advises with ANY, so a server-assigned
		// id never takes a number a client might choose next.
		s.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ANY);
		s.setResourceServerIdStrategy(JpaStorageSettings.IdStrategyEnum.UUID);

		// References to other servers are refused (default).
		s.setAllowExternalReferences(false);

		// No full-text indexing (Lucene/Elasticsearch), no ":missing" indexes (defaults).
		s.setAdvancedHSearchIndexing(false);
		s.setHibernateSearchIndexSearchParams(false);
		s.setIndexMissingFields(StorageSettings.IndexEnabledEnum.DISABLED);

		// Nothing to pre-expand or to load at start-up: no value set pre-expansion task.
		s.setPreExpandValueSets(false);
		s.setEnableTaskPreExpandValueSets(false);

		// Whole-history and delete features a test server does not need stay as by default.
		return s;
	}

	@Bean
	public PartitionSettings partitionSettings() {
		return new PartitionSettings();
	}

	/** No subscription channel types are enabled: subscriptions are not processed. */
	@Bean
	public SubscriptionSettings subscriptionSettings() {
		return new SubscriptionSettings();
	}

	@Bean(destroyMethod = "close")
	public BasicDataSource dataSource(LauncherOptions theOptions) {
		BasicDataSource ds = new BasicDataSource();
		if (theOptions.db == LauncherOptions.Db.POSTGRES) {
			ds.setDriverClassName("org.postgresql.Driver");
		} else {
			ds.setDriverClassName("org.h2.Driver");
		}
		ds.setUrl(theOptions.jdbcUrl);
		ds.setUsername(theOptions.dbUser);
		ds.setPassword(theOptions.dbPassword);
		ds.setMaxTotal(theOptions.dbPoolSize);
		ds.setMaxIdle(theOptions.dbPoolSize);
		ds.setMaxWait(java.time.Duration.ofSeconds(60));
		return ds;
	}

	@Bean
	@Primary
	public LocalContainerEntityManagerFactoryBean entityManagerFactory(
			ConfigurableListableBeanFactory theBeanFactory,
			FhirContext theFhirContext,
			JpaStorageSettings theStorageSettings,
			DataSource theDataSource,
			LauncherOptions theOptions) {
		LocalContainerEntityManagerFactoryBean f =
				HapiEntityManagerFactoryUtil.newEntityManagerFactory(theBeanFactory, theFhirContext, theStorageSettings);
		f.setPersistenceUnitName("FHIRGEN_HAPI_PU");
		f.setDataSource(theDataSource);
		Properties p = new Properties();
		p.put(
				"hibernate.dialect",
				theOptions.db == LauncherOptions.Db.POSTGRES
						? "ca.uhn.fhir.jpa.model.dialect.HapiFhirPostgresDialect"
						: "ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect");
		// The database is new on each run: Hibernate makes the schema from HAPI's entities.
		p.put("hibernate.hbm2ddl.auto", "update");
		// Hibernate Search (Lucene/Elasticsearch indexing) is off.
		p.put("hibernate.search.enabled", "false");
		p.put("hibernate.format_sql", "false");
		p.put("hibernate.show_sql", "false");
		f.setJpaProperties(p);
		return f;
	}

	@Bean
	@Primary
	public JpaTransactionManager transactionManager(EntityManagerFactory theEntityManagerFactory) {
		JpaTransactionManager tm = new JpaTransactionManager();
		tm.setEntityManagerFactory(theEntityManagerFactory);
		return tm;
	}

	/** The FHIR REST endpoint: every R4 resource type, the system operations (transaction). */
	@Bean
	public RestfulServer restfulServer(
			IFhirSystemDao<?, ?> theSystemDao,
			ResourceProviderFactory theResourceProviders,
			IJpaSystemProvider theSystemProvider,
			JpaStorageSettings theStorageSettings,
			ISearchParamRegistry theSearchParamRegistry,
			IValidationSupport theValidationSupport,
			DatabaseBackedPagingProvider thePagingProvider,
			LauncherOptions theOptions) {
		FhirContext ctx = theSystemDao.getContext();
		ctx.setNarrativeGenerator(new NullNarrativeGenerator());
		RestfulServer server = new RestfulServer(ctx);
		server.registerProviders(theResourceProviders.createProviders());
		server.registerProvider(theSystemProvider);
		JpaCapabilityStatementProvider capabilities = new JpaCapabilityStatementProvider(
				server, theSystemDao, theStorageSettings, theSearchParamRegistry, theValidationSupport);
		capabilities.setImplementationDescription("fhirgen test server (HAPI FHIR JPA, R4)");
		server.setServerConformanceProvider(capabilities);
		server.setPagingProvider(thePagingProvider);
		server.setDefaultResponseEncoding(EncodingEnum.JSON);
		if (theOptions.publicUrl != null) {
			server.setServerAddressStrategy(new HardcodedServerAddressStrategy(theOptions.publicUrl));
		}
		return server;
	}
}
