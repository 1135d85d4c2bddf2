// Supplies `GET /` and `HEAD /` to the minimal integ-test distribution, which ships without the
// rest-root module: clients and tools (Kibana, Beats, `client.info()`) identify the server there.
// Elasticsearch 9.x: getRestHandlers takes one RestHandlersServices record (8.x: see es8/).
package io.filewarden.elasticsearch;

import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

import org.apache.lucene.util.SetOnce;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.RestHandler;

public final class RootInfoPlugin extends Plugin implements ActionPlugin {
    private final SetOnce<ClusterService> clusterService = new SetOnce<>();

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService.set(services.clusterService());
        return List.of();
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
        RestHandlersServices services,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        // The handler reads the service lazily: REST handlers may be registered before createComponents.
        return List.of(new RestRootInfoAction(clusterService::get));
    }
}
