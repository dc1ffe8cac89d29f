// Stand-alone stimulus of the harness for bench/bench_icarus.py: plain `vvp`, no cocotb, no
// analog side.  Compiled as a third root beside xbar_top and xbar_dump; it forces the
// harness's host-bus inputs and its v_sense port and writes the neurons' g_nrn[n].v itself.
//
//   +idle_ms=<ms>      reset, then <ms> of simulated time with the host idle; or
//   +devices=<n>       program n devices (every 7th index, modulo N_DEV) by write-verify
//   +images=<m>        ... then run m inferences
//
// The "device" is a toy: its read code rises by 7 codes per microsecond of write pulse,
// falls by 5 per microsecond of erase pulse and goes to 0 on the reset pulse, so the
// controller's write-verify loop (reversals, adaptive widths, failures at MAX_PULSES) runs
// as on a real crossbar.  Neuron voltages are a function of the image and the input DACs.
// Prints one line `drive: devices=.. pulses=.. images=.. t_ns=..` at the end.
`timescale 1ns / 1ps

module drive;
  parameter integer N_IN = 9, N_NRN = 4, N_DEV = 30;
  /* verilator lint_off UNUSEDPARAM */
`include "hdl/xbar_regs.vh"
  /* verilator lint_on UNUSEDPARAM */

  reg rst_r = 1'b0, we_r = 1'b0;
  reg [7:0] addr_r = REG_STATUS;
  reg [15:0] data_r = 16'd0;
  real vs_r = 0.0;
  real g[0:N_DEV-1];
  real t_on;
  real idle_ms;
  integer n_dev, n_img, img, k, i, pulses;

  initial begin
    force xbar_top.rst_n = rst_r;
    force xbar_top.host_we = we_r;
    force xbar_top.host_addr = addr_r;
    force xbar_top.host_wdata = data_r;
    force xbar_top.v_sense = vs_r;
  end

  // one host bus write: set up on the falling edge, taken at the next rising one
  task wr(input [7:0] a, input [15:0] d);
    begin
      @(negedge xbar_top.clk);
      addr_r = a;
      data_r = d;
      we_r = 1'b1;
      @(negedge xbar_top.clk);
      we_r = 1'b0;
      addr_r = REG_STATUS;
    end
  endtask

  // the toy devices
  always @(posedge xbar_top.u_ctrl.pulse_on) t_on = $realtime;
  always @(negedge xbar_top.u_ctrl.pulse_on) begin
    case (xbar_top.phase)
      PHASE_RESET: g[xbar_top.cur_dev] = 0.0;
      PHASE_WRITE: begin
        g[xbar_top.cur_dev] = g[xbar_top.cur_dev] + 7.0 * ($realtime - t_on) / 1000.0;
        pulses = pulses + 1;
      end
      PHASE_ERASE: begin
        g[xbar_top.cur_dev] = g[xbar_top.cur_dev] - 5.0 * ($realtime - t_on) / 1000.0;
        pulses = pulses + 1;
      end
      default: ;
    endcase
  end
  always @(posedge xbar_top.adc_sample)
    vs_r = (g[xbar_top.cur_dev] + 0.3) * xbar_top.SENSE_ADC_FS_V
           / (2.0 ** xbar_top.SENSE_ADC_BITS);
  genvar gn;
  generate
    for (gn = 0; gn < N_NRN; gn = gn + 1) begin : g_n
      always @(posedge xbar_top.adc_sample)
        xbar_top.g_nrn[gn].v = 0.001 * ((gn * 7 + img * 13
                                         + $rtoi(xbar_top.g_in[gn % N_IN].v * 1e4)) % 997);
    end
  endgenerate

  initial begin
    pulses = 0;
    img = 0;
    for (k = 0; k < N_DEV; k = k + 1) g[k] = 0.0;
    if (!$value$plusargs("devices=%d", n_dev)) n_dev = 0;
    if (!$value$plusargs("images=%d", n_img)) n_img = 0;
    if (!$value$plusargs("idle_ms=%f", idle_ms)) idle_ms = 0.0;
    #2500 rst_r = 1'b1;
    #(idle_ms * 1e6);
    wr(REG_TOL, 16'd8);
    wr(REG_MAX_PULSES, 16'd40);
    wr(REG_RESET_EN, 16'd1);
    wr(REG_WRITE_CODE, 16'h0300);
    wr(REG_WRITE_CYC, 16'd6);
    wr(REG_ERASE_CODE, 16'hFD00);
    wr(REG_ERASE_CYC, 16'd6);
    wr(REG_RESET_CODE, 16'hFC00);
    wr(REG_RESET_CYC, 16'd50);
    wr(REG_READ_CODE, 16'h0040);
    wr(REG_READ_CYC, 16'd4);
    wr(REG_READ_SAMPLE, 16'd2);
    wr(REG_GAP_CYC, 16'd2);
    wr(REG_INF_SETTLE, 16'd3);
    wr(REG_ADAPT, 16'd1);
    wr(REG_MIN_CYC, 16'd1);
    if (n_dev > 0) begin
      wr(REG_DEV_IDX, 16'd0);
      for (k = 0; k < N_DEV; k = k + 1) wr(REG_DEV_TARGET, (k * 37) % 400 + 50);
      wr(REG_MASK_ALL, 16'd0);
      for (k = 0; k < n_dev; k = k + 1) begin
        wr(REG_DEV_IDX, (k * 7) % N_DEV);
        wr(REG_DEV_MASK, 16'd1);
      end
      wr(REG_CTRL, 16'd1 << CTRL_START);
      wait (xbar_top.busy);
      wait (!xbar_top.busy);
      for (k = 0; k < n_dev; k = k + 1) begin  // the host reads the results back
        wr(REG_DEV_IDX, (k * 7) % N_DEV);
        wr(REG_DEV_FLAG, 16'd0);
        wr(REG_DEV_PCOUNT, 16'd0);
        wr(REG_DEV_CODE, 16'd0);
      end
    end
    for (img = 0; img < n_img; img = img + 1) begin
      wr(REG_IN_IDX, 16'd0);
      for (i = 0; i < N_IN; i = i + 1) wr(REG_IN_CODE, (i * 131 + img * 17) % 4096);
      wr(REG_CTRL, (16'd1 << CTRL_START) | (16'd1 << CTRL_MODE));
      wait (xbar_top.busy);
      wait (!xbar_top.busy);
      wr(REG_INF_CLASS, 16'd0);
    end
    #10000;
    $display("drive: devices=%0d pulses=%0d images=%0d t_ns=%0.0f", n_dev, pulses, n_img,
             $realtime);
    $finish;
  end
endmodule
