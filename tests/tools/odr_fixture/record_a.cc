// One half of a deliberate One Definition Rule violation (check_lto_flags.py): the same
// class name with a different layout in two translation units, as coedge::JobRecord once
// was in the simulator and the node runtime.
struct JobRecord {
  int id;
  double release;
};
int release_of_a(JobRecord* r) { return static_cast<int>(r->release); }
