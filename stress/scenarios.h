/*
 * stress/scenarios.h: the scenario tables each structure contributes to the stress program.
 * Add yours here and to the list in stress_main.c.
 */
#ifndef CASK_STRESS_SCENARIOS_H
#define CASK_STRESS_SCENARIOS_H

#include <stddef.h>

#include "stress/harness.h"

extern const cask_stress_scenario cask_stress_hp_scenarios[];
extern const size_t cask_stress_hp_scenario_count;
extern const cask_stress_scenario cask_stress_queue_scenarios[];
extern const size_t cask_stress_queue_scenario_count;
extern const cask_stress_scenario cask_stress_snap_scenarios[];
extern const size_t cask_stress_snap_scenario_count;
extern const cask_stress_scenario cask_stress_vec_scenarios[];
extern const size_t cask_stress_vec_scenario_count;
extern const cask_stress_scenario cask_stress_frozen_scenarios[];
extern const size_t cask_stress_frozen_scenario_count;

extern const cask_stress_scenario cask_stress_map_scenarios[];
extern const size_t cask_stress_map_scenario_count;

#endif
