// What both majors' plugin classes share: the cluster service, taken when the node creates its
// components, and the handler that reads it. Only getRestHandlers' signature differs (es8/, es9/).
package io.filewarden.elasticsearch;

import java.util.Collection;
import java.util.List;

import org.apache.lucene.util.SetOnce;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.RestHandler;

abstract class RootInfoSupport extends Plugin implements ActionPlugin {
    private final SetOnce<ClusterService> clusterService = new SetOnce<>();

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService.set(services.clusterService());
        return List.of();
    }

    /** The handler reads the service lazily: REST handlers may be registered before createComponents. */
    final Collection<RestHandler> rootHandlers() {
        return List.of(new RestRootInfoAction(clusterService::get));
    }
}
