"""The pieces of the cluster benchmark (``bench/cluster.py``): its own network of namespaces, the services
started in them, the proxy's configuration, the clients and the checks. Nothing here measures by itself."""
