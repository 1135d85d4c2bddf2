// Supplies `GET /` and `HEAD /` to the minimal integ-test distribution, which ships without the
// rest-root module: clients and tools (Kibana, Beats, `client.info()`) identify the server there.
// Elasticsearch 9.x: getRestHandlers takes one RestHandlersServices record (8.x: see es8/).
package io.filewarden.elasticsearch;

import java.util.Collection;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.rest.RestHandler;

public final class RootInfoPlugin extends RootInfoSupport {
    @Override
    public Collection<RestHandler> getRestHandlers(
        RestHandlersServices services,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return rootHandlers();
    }
}
