// coedge-probe: the bandwidth probe program. A node agent starts it to serve iperf3 tests
// to its peers and to run one test against a peer (net/bandwidth_probe.h). A program of
// its own, linked with libiperf only, so that each of these processes holds a few MB
// rather than a copy of the agent.
#include "net/bandwidth_probe.h"

int main(int argc, char** argv) { return coedge::net::probe_program_main(argc, argv); }
