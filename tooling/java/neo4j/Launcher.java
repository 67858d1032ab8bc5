// Runs a Neo4j DBMS with only its Bolt connector on 127.0.0.1, for tests
// and development (tooling/services). Arguments: home directory, Bolt port,
// password of the `neo4j` user, and a directory holding server.key and
// server.pem, with which Bolt also accepts TLS (optional: plain Bolt stays
// open). Stops cleanly on SIGTERM.
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.configuration.ssl.ClientAuth;
import org.neo4j.configuration.ssl.SslPolicyConfig;
import org.neo4j.configuration.ssl.SslPolicyScope;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

public final class Launcher {
    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        String password = args[2];
        Path tls = Path.of(args[3]);
        SslPolicyConfig bolt = SslPolicyConfig.forScope(SslPolicyScope.BOLT);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(bolt.enabled, true)
                .setConfig(bolt.base_directory, tls)
                .setConfig(bolt.private_key, tls.resolve("server.key"))
                .setConfig(bolt.public_certificate, tls.resolve("server.pem"))
                .setConfig(bolt.client_auth, ClientAuth.NONE)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.OPTIONAL)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(64))
                .setConfig(GraphDatabaseSettings.transaction_timeout, Duration.ofSeconds(30))
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown));
        try {
            setInitialPassword(dbms, password);
        } catch (RuntimeException e) {
            e.printStackTrace();
            System.exit(1);
        }
        System.out.println("neo4j ready on 127.0.0.1:" + port);
        Thread.currentThread().join();
    }

    /** Replaces the default password of `neo4j` on the first start only. */
    private static void setInitialPassword(DatabaseManagementService dbms, String password) {
        var system = dbms.database("system");
        boolean firstStart = system.executeTransactionally(
                "SHOW USERS YIELD user, passwordChangeRequired WHERE user = 'neo4j' "
                        + "RETURN passwordChangeRequired",
                Map.of(),
                result -> result.hasNext() && (Boolean) result.next().get("passwordChangeRequired"));
        if (firstStart) {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        }
    }
}
