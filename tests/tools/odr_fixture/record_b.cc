// The other half (see record_a.cc); main() uses both definitions.
struct JobRecord {
  long id;
  char outcome;
  double deadline;
};
int release_of_a(JobRecord* r);
int main() {
  JobRecord r{1, 'm', 2.0};
  return release_of_a(&r) == 12345;
}
