// Iterative stratification, after Sechidis, Tsoumakas and Vlahavas, "On the stratification
// of multi-label data" (ECML PKDD 2011): items that carry sets of labels are dealt to parts
// of given ratios so that every label is spread over the parts near those ratios.
//
// Labels are integer ids 0..n_labels-1; item i carries labels[label_start[i] ..
// label_start[i+1]-1] (compressed rows: label_start has n_items+1 entries, label_start[0]
// is normally 0). A label listed twice for one item counts once.
//
// Every choice is deterministic:
//   - a label's count is the number of items that carry it; part k wants
//     ratios[k] * count of each label, and ratios[k] * n_items items in all;
//   - an item's stratum is its rarest label (the smallest count); of equally rare labels,
//     the first in the item's own list. Items without labels form a last stratum of their
//     own. The rarity is fixed from the start (the paper re-ranks the labels as it goes);
//   - items are taken by stratum, the rarer label first, then the smaller label id among
//     labels of equal count, the items without labels last; within a stratum by tie_key,
//     smallest first, and equal keys by item index;
//   - an item goes to the part that still wants its stratum's label most; on equal wants
//     to the part that still wants the most items, then to the lowest part index. Items
//     without labels go to the part that still wants the most items (then the lowest);
//   - the chosen part then wants one item fewer in all, and one fewer of every label the
//     item carries.
#ifndef MAD_STRATIFY_H
#define MAD_STRATIFY_H

#include <stddef.h>

// Assigns each of n_items items a part in 0..n_parts-1, written to part[i], by the rules
// above. ratios has n_parts entries (normally summing to 1; they are not checked) and
// tie_key n_items (split gives each record's hash position in [0,1)). With n_items == 0
// nothing is read or written. Returns 0; -1 when memory runs out; -2 for bad arguments
// (n_parts < 1, label_start decreasing, a label id >= n_labels). On an error part is left
// unwritten.
int stratify_assign(size_t n_items, const size_t *label_start, const size_t *labels, size_t n_labels,
                    const double *ratios, int n_parts, const double *tie_key, int *part);

#endif
