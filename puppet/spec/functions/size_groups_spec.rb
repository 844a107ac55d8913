# frozen_string_literal: true

describe 'jobrunner::size_groups' do
  it 'sizes production jobrunner weights on 24 CPUs (concurrency floor(1.1 x 24) = 26)' do
    weights = {
      'basic' => { 'weight' => 20, 'include' => ['*'] },
      'gwt' => { 'weight' => 1 },
      'translate' => { 'weight' => 1 },
      'upload' => { 'weight' => 7 },
      'html' => { 'weight' => 6 },
    }
    is_expected.to run.with_params(weights, 1.1, 24).and_return(
      'basic' => { 'runners' => 15, 'include' => ['*'] },
      'gwt' => { 'runners' => 1 },
      'translate' => { 'runners' => 1 },
      'upload' => { 'runners' => 6 },
      'html' => { 'runners' => 5 },
    )
  end

  it 'keeps 0.7 x 30 CPUs at 21 slots despite floating point (videoscaler weights)' do
    is_expected.to run.with_params({ 't' => { 'weight' => 6 }, 'tp' => { 'weight' => 4 } }, 0.7, 30)
                      .and_return('t' => { 'runners' => 13 }, 'tp' => { 'runners' => 9 })
  end

  it 'keeps fixed runner counts, gives weight 0 no slots, and keeps the group order' do
    result = subject.execute(
      { 'z' => { 'runners' => 3, 'exclude' => ['a'] }, 'a' => { 'weight' => 0 }, 'm' => { 'weight' => 2 } }, 1, 4,
    )
    expect(result.keys).to eq(%w[z a m])
    expect(result).to eq('z' => { 'runners' => 3, 'exclude' => ['a'] }, 'a' => { 'runners' => 0 }, 'm' => { 'runners' => 4 })
  end

  it 'rejects a group with both runners and weight' do
    is_expected.to run.with_params({ 'basic' => { 'runners' => 1, 'weight' => 1 } }, 1, 4)
                      .and_raise_error(%r{group 'basic' must have exactly one of 'runners' or 'weight'})
  end

  it 'rejects a group with neither runners nor weight' do
    is_expected.to run.with_params({ 'basic' => { 'include' => ['*'] } }, 1, 4)
                      .and_raise_error(%r{group 'basic' must have exactly one})
  end
end
