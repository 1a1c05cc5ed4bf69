/* stress_main.c: the cask stress program: every structure's scenarios, one driver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress/scenarios.h"

int main(int argc, char **argv)
{
    const struct {
        const cask_stress_scenario *table;
        size_t count;
    } tables[] = {
        {cask_stress_vec_scenarios, cask_stress_vec_scenario_count},
        {cask_stress_frozen_scenarios, cask_stress_frozen_scenario_count},
        {cask_stress_hp_scenarios, cask_stress_hp_scenario_count},
        {cask_stress_queue_scenarios, cask_stress_queue_scenario_count},
        {cask_stress_snap_scenarios, cask_stress_snap_scenario_count},
        {cask_stress_map_scenarios, cask_stress_map_scenario_count},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        total += tables[i].count;
    cask_stress_scenario *all = malloc(total * sizeof(*all));
    if (all == NULL) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    size_t n = 0;
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        memcpy(all + n, tables[i].table, tables[i].count * sizeof(*all));
        n += tables[i].count;
    }
    int rc = cask_stress_main(argc, argv, all, total);
    free(all);
    return rc;
}
