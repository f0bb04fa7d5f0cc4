// ingest: datasets in, records out.
#ifndef INGEST_INGEST_H
#define INGEST_INGEST_H

int ingest_vindr(int argc, char **argv);
int ingest_coco(int argc, char **argv);

#endif
