// Formal properties of xbar_ctrl (included in its body under `ifdef FORMAL`; Yosys reads the
// controller with `read_verilog -sv -formal`, tools: hdl/formal/run_formal.py, `make formal`).
//
// Every assertion and cover has a label; a failing run names it.  docs/controller.md
// ("Formal properties") lists what each protects and the depth proven.
//
// Environment (assumptions):
//   - reset: rst_n low in the first cycle, high afterwards;
//   - host bus: unconstrained (any address, data and write strobe in any cycle);
//   - ADC handshake: adc_valid only while adc_sample is high (the S/H has a sample), never two
//     cycles in a row; sense_code / neuron_codes unconstrained;
//   - FORMAL_LIVE only (bounded liveness): every ADC answers within F_ADC_MAX cycles, and the
//     registers that set the length of a run are small (see below).

  // ------------------------------------------------------------------ environment
  reg f_past_valid = 1'b0;
  always @(posedge clk) f_past_valid <= 1'b1;

  always @(*) begin
    if (!f_past_valid) assume (!rst_n);
    else assume (rst_n);
    if (adc_valid) assume (adc_sample);
  end
  always @(posedge clk) if (f_past_valid && $past(adc_valid)) assume (!adc_valid);

  // ------------------------------------------------------------------ observers
  // a symbolic device: every per-device property is proven for any index f_dev
  (* anyconst *) reg [DEV_W-1:0] f_dev;
  always @(*) assume (f_dev <= LAST_DEV);

  // the documented clamps of the width registers (restated here on purpose: the RTL's own
  // w_eff / write_eff are what is being checked)
  wire [15:0] f_reset_eff = (reset_cyc_r == 16'd0) ? 16'd1 : reset_cyc_r;
  wire [15:0] f_read_eff = (read_cyc_r < 16'd2) ? 16'd2 : read_cyc_r;
  wire [15:0] f_write_eff = (write_cyc_r == 16'd0) ? 16'd1 : write_cyc_r;
  wire [15:0] f_erase_eff = (erase_cyc_r == 16'd0) ? 16'd1 : erase_cyc_r;
  wire [15:0] f_min_eff = (min_cyc_r == 16'd0) ? 16'd1 : min_cyc_r;

  function [15:0] f_popcount(input [N_DEV-1:0] v);
    integer i;
    begin
      f_popcount = 16'd0;
      for (i = 0; i < N_DEV; i = i + 1) f_popcount = f_popcount + {15'd0, v[i]};
    end
  endfunction

  // kind of the pulse on the DAC, from the phase output
  reg [PULSE_BITS-1:0] f_code_of_phase;
  always @(*) begin
    case (phase)
      PHASE_RESET: f_code_of_phase = reset_code_r;
      PHASE_WRITE: f_code_of_phase = write_code_r;
      PHASE_ERASE: f_code_of_phase = erase_code_r;
      default: f_code_of_phase = read_code_r;
    endcase
  end

  // f_sel_age: cycles (up to the last one) the select has had its present nonzero value;
  // f_off_age: cycles pulse_on has been low; f_plen: cycles pulse_on has been high
  reg [15:0] f_sel_age = 16'd0;
  reg [15:0] f_off_age = 16'd0;
  reg [15:0] f_plen = 16'd0;
  always @(posedge clk) begin
    if (sel == {N_DEV{1'b0}}) f_sel_age <= 16'd0;
    else if (f_past_valid && sel == $past(sel)) f_sel_age <= (f_sel_age == 16'hFFFF) ? f_sel_age : f_sel_age + 16'd1;
    else f_sel_age <= 16'd1;
    f_off_age <= pulse_on ? 16'd0 : ((f_off_age == 16'hFFFF) ? f_off_age : f_off_age + 16'd1);
    f_plen <= pulse_on ? f_plen + 16'd1 : 16'd0;
  end

  // write+erase pulses that device f_dev received in the current programming run
  reg [16:0] f_dev_pulses = 17'd0;
  always @(posedge clk) begin
    if (!rst_n || start) f_dev_pulses <= 17'd0;
    else if (pulse_on && !$past(pulse_on) && sel[f_dev]
             && (phase == PHASE_WRITE || phase == PHASE_ERASE))
      f_dev_pulses <= f_dev_pulses + 17'd1;
  end

  // shadow of the target of device f_dev as written through the window
  reg [SENSE_BITS-1:0] f_tgt = {SENSE_BITS{1'b0}};
  reg f_tgt_valid = 1'b0;
  always @(posedge clk) begin
    if (!rst_n) f_tgt_valid <= 1'b0;
    else if (host_we && idle && host_addr == REG_DEV_TARGET && dev_idx_r == {{(16 - DEV_W) {1'b0}}, f_dev}) begin
      f_tgt <= host_wdata[SENSE_BITS-1:0];
      f_tgt_valid <= 1'b1;
    end
  end

  // readback mask of the plain RW registers (0: not a plain RW register)
  function [15:0] f_rw_mask(input [7:0] a);
    begin
      case (a)
        REG_CTRL: f_rw_mask = 16'd1 << CTRL_MODE;
        REG_TOL, REG_MAX_PULSES, REG_WRITE_CYC, REG_ERASE_CYC, REG_RESET_CYC, REG_READ_CYC,
        REG_READ_SAMPLE, REG_GAP_CYC, REG_INF_SETTLE, REG_MIN_CYC, REG_STEP_WAIT,
        REG_STEP_WAIT_HI, REG_DEV_IDX, REG_IN_IDX, REG_NRN_IDX: f_rw_mask = 16'hFFFF;
        REG_TOL_SHIFT: f_rw_mask = 16'h000F;
        REG_RESET_EN: f_rw_mask = 16'h0001;
        REG_ADAPT: f_rw_mask = 16'd1 << ADAPT_EN;
        REG_WRITE_CODE, REG_ERASE_CODE, REG_RESET_CODE, REG_READ_CODE:
          f_rw_mask = {{(16 - PULSE_BITS) {1'b0}}, {PULSE_BITS{1'b1}}};
        REG_CLASS_THR: f_rw_mask = {{(16 - NEURON_BITS) {1'b0}}, {NEURON_BITS{1'b1}}};
        default: f_rw_mask = 16'd0;
      endcase
    end
  endfunction
  wire f_is_idx = (host_addr == REG_DEV_IDX) || (host_addr == REG_IN_IDX) || (host_addr == REG_NRN_IDX);

  // ------------------------------------------------------------------ safety: select lines
  always @(*) if (rst_n) begin
    p_sel_onehot0: assert ((sel & (sel - {{(N_DEV - 1) {1'b0}}, 1'b1})) == {N_DEV{1'b0}});
    p_sel_none_infer: assert (!(infer_en && sel != {N_DEV{1'b0}}));
    p_sel_is_cur: assert (sel == {N_DEV{1'b0}} || sel == onehot_cur);
  end

  // ------------------------------------------------------------------ safety: pulses
  always @(*) if (rst_n) begin
    p_pulse_one_sel: assert (!pulse_on || (sel != {N_DEV{1'b0}} && (sel & (sel - {{(N_DEV - 1) {1'b0}}, 1'b1})) == {N_DEV{1'b0}}));
    p_pulse_code_reg: assert (pulse_on ? (pulse_code == f_code_of_phase) : (pulse_code == {PULSE_BITS{1'b0}}));
    p_pulse_phase: assert (!pulse_on || (phase >= PHASE_RESET && phase <= PHASE_READ));
    p_pulse_no_adc: assert (!(pulse_on && adc_sample && phase != PHASE_READ));
    p_pulse_not_infer: assert (!(pulse_on && infer_en));
    p_inputs_off: assert (infer_en || in_codes == {(N_IN * IN_BITS) {1'b0}});
    p_busy_state: assert (busy == !idle);
    p_done_not_busy: assert (!(done && busy));
    p_phase_valid: assert (phase <= PHASE_INFER);
  end

  always @(posedge clk) if (f_past_valid && $past(rst_n) && rst_n) begin
    // a pulse starts only after the select setup time, never while the S/H holds a sample
    if (pulse_on && !$past(pulse_on)) begin
      p_pulse_setup: assert (sel == $past(sel) && f_sel_age >= SEL_SETUP_CYC);
      p_pulse_start_no_adc: assert (!$past(adc_sample));
    end
    // the select never changes while the pulse is on, and is held after it
    if ($past(pulse_on)) p_sel_stable_pulse: assert (sel == $past(sel));
    if ($past(sel) != {N_DEV{1'b0}} && sel != $past(sel)) p_sel_hold: assert (f_off_age >= SEL_HOLD_CYC);
    // pulse width at its end, per kind, within the configured (adaptive) bounds
    if ($past(pulse_on) && !pulse_on) begin
      case ($past(phase))
        PHASE_RESET: p_width_reset: assert (f_plen == f_reset_eff);
        PHASE_READ: p_width_read: assert (f_plen == f_read_eff);
        PHASE_WRITE: begin
          p_width_write: assert (f_plen <= f_write_eff
                                 && f_plen >= ((f_write_eff < f_min_eff) ? f_write_eff : f_min_eff)
                                 && (adapt_en_r || f_plen == f_write_eff));
        end
        PHASE_ERASE: begin
          p_width_erase: assert (f_plen <= f_erase_eff
                                 && f_plen >= ((f_erase_eff < f_min_eff) ? f_erase_eff : f_min_eff)
                                 && (adapt_en_r || f_plen == f_erase_eff));
        end
        default: p_width_kind: assert (1'b0);
      endcase
    end
    // the sample command rises only inside a read pulse or in inference
    if (adc_sample && !$past(adc_sample))
      p_adc_when: assert ((pulse_on && phase == PHASE_READ) || (infer_en && phase == PHASE_INFER));
  end

  // ------------------------------------------------------------------ safety: per device
  always @(*) if (rst_n) begin
    // (MAX_PULSES and the mask may be rewritten between runs: checked during a run)
    if (busy) p_max_pulses: assert (f_dev_pulses <= {1'b0, max_pulses_r});
    p_ok_xor_fail: assert ((ok_r & fail_r) == {N_DEV{1'b0}});
    p_flags_visited: assert (((ok_r | fail_r) & ~visited_r) == {N_DEV{1'b0}});
    if (busy && !run_mode_r) p_visit_masked: assert ((visited_r & ~mask_r) == {N_DEV{1'b0}});
  end
  always @(posedge clk) if (f_past_valid && $past(rst_n) && rst_n) begin
    // done after a programming run: every masked device is ok or failed
    if (done && !$past(done) && !run_mode_r)
      p_done_all_flagged: assert ((mask_r & ~(ok_r | fail_r)) == {N_DEV{1'b0}});
    if (done && !$past(done) && !run_mode_r)
      p_nfail_count: assert (nfail_r == f_popcount(fail_r));
  end

  // ------------------------------------------------------------------ safety: registers
  always @(posedge clk) if (f_past_valid && $past(rst_n) && rst_n) begin
    // readback equals what was written (plain RW registers, written while idle or index)
    if ($past(host_we) && ($past(idle) || $past(f_is_idx)) && host_addr == $past(host_addr)
        && f_rw_mask(host_addr) != 16'd0)
      p_readback: assert (host_rdata == ($past(host_wdata) & f_rw_mask(host_addr)));
    // a target write streams: the device index advances by one
    if ($past(host_we && idle && host_addr == REG_DEV_TARGET))
      p_target_autoinc: assert (dev_idx_r == $past(dev_idx_r) + 16'd1);
    // nothing the sequencer uses changes while busy
    if (!$past(idle)) begin
      p_busy_regs_stable: assert ($stable({mode_r, tol_r, tol_shift_r, max_pulses_r, reset_en_r,
          write_code_r, erase_code_r, reset_code_r, read_code_r, write_cyc_r, erase_cyc_r,
          reset_cyc_r, read_cyc_r, read_sample_r, gap_cyc_r, inf_settle_r, adapt_en_r,
          min_cyc_r, step_wait_r, class_thr_r, mask_r, tvalid_r, input_r}));
      p_busy_target_stable: assert (f_tgt == $past(f_tgt) && f_tgt_valid == $past(f_tgt_valid));
    end
  end
  // the window reads back the target written for f_dev (0 if never written); the verify
  // decision uses that same target
  always @(*) if (rst_n) begin
    if (host_addr == REG_DEV_TARGET && dev_idx_r == {{(16 - DEV_W) {1'b0}}, f_dev})
      p_target_window: assert (host_rdata == (f_tgt_valid ? {{(16 - SENSE_BITS) {1'b0}}, f_tgt} : 16'd0));
    if (cur_dev == f_dev) p_target_used: assert (tgt_cur == (f_tgt_valid ? f_tgt : {SENSE_BITS{1'b0}}));
  end

`ifdef FORMAL_LIVE
  // ------------------------------------------------------------------ bounded liveness
  // A responsive ADC and short runs: widths, gap, settle <= 1 cycle (read 2), no step wait,
  // MAX_PULSES <= F_MAXP.  Then every run ends within F_RUN_MAX cycles of START.
  localparam integer F_ADC_MAX = 2;
  localparam integer F_MAXP = 1;
  reg [3:0] f_adc_wait = 4'd0;
  always @(posedge clk) f_adc_wait <= (adc_sample && !adc_valid) ? f_adc_wait + 4'd1 : 4'd0;
  always @(*) begin
    if (f_adc_wait >= F_ADC_MAX) assume (adc_valid || !adc_sample);
    assume (write_cyc_r <= 16'd1 && erase_cyc_r <= 16'd1 && reset_cyc_r <= 16'd1);
    assume (read_cyc_r <= 16'd2 && read_sample_r <= 16'd1 && gap_cyc_r <= 16'd1);
    assume (inf_settle_r <= 16'd1 && step_wait_r == 32'd0 && max_pulses_r <= F_MAXP);
  end
  // per device <= 1 + (setup+reset+hold+gap) + (F_MAXP+1) reads + F_MAXP writes
  localparam integer F_PULSE = 2 + 2 + 2 + 1;            // longest pulse incl. select + gap
  localparam integer F_READ = F_PULSE + F_ADC_MAX + 2;   // + ADC wait, EVAL
  localparam integer F_RUN_MAX = 4 + N_DEV * (2 + F_PULSE + (F_MAXP + 1) * F_READ + F_MAXP * F_PULSE);
  reg [15:0] f_busy_len = 16'd0;
  always @(posedge clk) f_busy_len <= busy ? f_busy_len + 16'd1 : 16'd0;
  always @(*) if (rst_n) p_live_done: assert (f_busy_len <= F_RUN_MAX);
`endif

  // ------------------------------------------------------------------ covers
  // Each cover is a named wire c_* and a cover() statement (for other tools); tools/formal.py
  // compiles with FORMAL_COVER, where every cover is an assertion of its negation.
  reg [3:0] f_prev_state = 4'd0;
  reg [15:0] f_prev_wcur = 16'd0;
  reg f_prev_done = 1'b0;
  always @(posedge clk) begin
    f_prev_state <= state;
    f_prev_wcur <= wcur;
    f_prev_done <= done;
  end
  wire f_cov_on = f_past_valid && rst_n;
  (* keep *) wire c_phase_reset = f_cov_on && pulse_on && phase == PHASE_RESET;
  (* keep *) wire c_phase_write = f_cov_on && pulse_on && phase == PHASE_WRITE;
  (* keep *) wire c_phase_erase = f_cov_on && pulse_on && phase == PHASE_ERASE;
  (* keep *) wire c_phase_read = f_cov_on && pulse_on && phase == PHASE_READ;
  (* keep *) wire c_phase_infer = f_cov_on && adc_sample && phase == PHASE_INFER;
  (* keep *) wire c_step_wait = f_cov_on && state == S_STEP_WAIT;
  (* keep *) wire c_reset_skipped = f_cov_on && state == S_SETUP && phase == PHASE_READ && !reset_en_r
                                    && npulse == 16'd0 && !dir_valid;
  (* keep *) wire c_dev_ok = f_cov_on && state == S_EVAL && in_window;
  (* keep *) wire c_fail_at_limit = f_cov_on && state == S_EVAL && !in_window && at_limit
                                    && max_pulses_r != 16'd0;
  (* keep *) wire c_reversal = f_cov_on && state == S_EVAL && !in_window && !at_limit && dir_valid
                               && (dir_erase == too_low);
  (* keep *) wire c_width_halved = f_cov_on && f_prev_state == S_EVAL && wcur < f_prev_wcur;
  (* keep *) wire c_done_program = f_cov_on && done && !f_prev_done && !run_mode_r;
  (* keep *) wire c_done_infer = f_cov_on && done && !f_prev_done && run_mode_r;
  (* keep *) wire c_second_device = f_cov_on && pulse_on && cur_dev != {DEV_W{1'b0}};
`ifdef FORMAL_COVER
  // tools/formal.py cover: a cover is reached when its negation fails (named cover_*)
  always @(*) begin
    cover_phase_reset: assert (!c_phase_reset);
    cover_phase_write: assert (!c_phase_write);
    cover_phase_erase: assert (!c_phase_erase);
    cover_phase_read: assert (!c_phase_read);
    cover_phase_infer: assert (!c_phase_infer);
    cover_step_wait: assert (!c_step_wait);
    cover_reset_skipped: assert (!c_reset_skipped);
    cover_dev_ok: assert (!c_dev_ok);
    cover_fail_at_limit: assert (!c_fail_at_limit);
    cover_reversal: assert (!c_reversal);
    cover_width_halved: assert (!c_width_halved);
    cover_done_program: assert (!c_done_program);
    cover_done_infer: assert (!c_done_infer);
    cover_second_device: assert (!c_second_device);
  end
`else
  always @(*) begin
    cover (c_phase_reset);
    cover (c_phase_write);
    cover (c_phase_erase);
    cover (c_phase_read);
    cover (c_phase_infer);
    cover (c_step_wait);
    cover (c_reset_skipped);
    cover (c_dev_ok);
    cover (c_fail_at_limit);
    cover (c_reversal);
    cover (c_width_halved);
    cover (c_done_program);
    cover (c_done_infer);
    cover (c_second_device);
  end
`endif
